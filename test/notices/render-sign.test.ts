import { readFileSync } from 'node:fs';
import jsqr from 'jsqr';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { isCamwardenError } from '../../agent/errors.js';
import type { NoticeContent, NoticeText } from '../../agent/notices/notice-content.js';
import {
  renderSignPages,
  renderSignPng,
  renderSignPngPages,
  renderSignSvg,
  renderSignText,
  type SignInput,
} from '../../agent/notices/render-sign.js';

const URL_ = 'https://rights.example.cn/s/futian/n/N-7';
const PT = 25.4 / 72; // mm per point: the SVG is in millimetres

const ZH: NoticeText = {
  title: '视频监控区域 · 人脸识别',
  handler: '福田广场物业公司',
  contact: '电话 0755-8888 1234 & 服务台 <一楼>',
  dataTypes: '出入口视频图像；闸机处人脸特征。',
  purpose: '仅用于公共安全。',
  method: '全天录像；闸机实时比对。',
  retention: '保存30天后删除。',
  security: '本地加密，访问留痕。',
  rights: '查阅、复制、删除、撤回同意、投诉。',
  howToExercise: '扫码或到服务台办理。',
  faceNecessity: '核验会员身份；也可刷卡通行。',
  faceImpact: '人脸仅存本地，撤回即删。',
};
const EN: NoticeText = {
  title: 'CCTV and face recognition',
  handler: 'Futian Plaza Property Co.',
  contact: 'Tel <0755-8888 1234> & desk',
  dataTypes: 'Video; faces at the gates.',
  purpose: 'Public safety only.',
  method: 'Recording all day; live face match at gates.',
  retention: 'Deleted after 30 days.',
  security: 'Encrypted on site; access logged.',
  rights: 'Access, copy, delete, withdraw, complain.',
  howToExercise: 'Scan the code or ask the desk.',
  faceNecessity: 'Checks members; a card works too.',
  faceImpact: 'Stays on site; deleted on withdrawal.',
};

function sign(overrides: { face?: boolean; zh?: Partial<NoticeText>; en?: Partial<NoticeText> } = {}): SignInput {
  const face = overrides.face ?? true;
  const strip = (t: NoticeText): NoticeText => {
    if (face) return t;
    const { faceNecessity: _n, faceImpact: _i, ...rest } = t;
    return { ...rest, title: rest.title.replace(/ · 人脸识别| and face recognition/, '') };
  };
  return {
    id: 'N-7',
    rightsUrl: URL_,
    cameras: ['cam-1', 'cam-2'],
    verifiedAt: '2025-03-01T02:00:00Z',
    expiresAt: '2025-09-01',
    site: { name: '福田广场 Futian Plaza' },
    content: {
      terms: { handler: ZH.handler, purpose: 'public-safety', retentionDays: 30, faceRecognition: face },
      placement: { location: 'north entrance' },
      text: { zh: strip({ ...ZH, ...overrides.zh }), en: strip({ ...EN, ...overrides.en }) },
    },
  };
}

/** Every field repeated until it no longer fits A4 even at the 12 pt floor. */
function tooLongForA4(): SignInput {
  const times = (t: NoticeText, k: number): Partial<NoticeText> =>
    Object.fromEntries(Object.entries(t).map(([key, v]) => [key, key === 'title' ? v : Array(k).fill(v).join(' ')]));
  return sign({ zh: times(ZH, 3), en: times(EN, 3) });
}

interface Line {
  role: string;
  field?: string;
  lang?: string;
  size: number;
  text: string;
}

const unescape = (s: string): string =>
  s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');

function textLines(svg: string): Line[] {
  return [...svg.matchAll(/<text ([^>]*)>(.*?)<\/text>/g)].map(([, attrs = '', inner = '']) => {
    const attr = (name: string): string | undefined => new RegExp(`${name}="([^"]*)"`).exec(attrs)?.[1];
    return {
      role: attr('data-role') ?? '',
      field: attr('data-field'),
      lang: attr('data-lang'),
      size: Number(attr('font-size')),
      text: unescape(inner.replace(/<[^>]+>/g, '')),
    };
  });
}

/** A field's printed text with line breaks undone (wrapping drops the spaces it breaks at). */
function printed(svg: string, role: string, field: string, lang: string): string {
  return textLines(svg)
    .filter((l) => l.role === role && l.field === field && l.lang === lang)
    .map((l) => l.text)
    .join('')
    .replace(/\s+/g, '');
}
const squash = (s: string): string => s.replace(/\s+/g, '');

async function decodeQr(png: Buffer): Promise<string | undefined> {
  const { data, info } = await sharp(png).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  // jsqr is CommonJS: from ESM its default import is module.exports, whose `default` is the decoder.
  return jsqr.default(new Uint8ClampedArray(data.buffer, data.byteOffset, data.length), info.width, info.height)?.data;
}

/** Dark pixels within 8 mm of the edge, inside the 10 mm margin: there should be none. */
async function inkInMargins(png: Buffer, dpi: number): Promise<number> {
  const { data, info } = await sharp(png).greyscale().raw().toBuffer({ resolveWithObject: true });
  const edge = Math.floor((8 / 25.4) * dpi);
  let inked = 0;
  for (let y = 0; y < info.height; y++) {
    for (let x = 0; x < info.width; x++) {
      const inMargin = x < edge || x >= info.width - edge || y < edge || y >= info.height - edge;
      if (inMargin && (data[y * info.width + x] ?? 255) < 200) inked++;
    }
  }
  return inked;
}

const FIELDS = [
  'handler', 'contact', 'dataTypes', 'purpose', 'method', 'retention', 'security', 'rights', 'howToExercise',
] as const;
const A4 = { paper: 'A4', largePrint: false } as const;

describe('renderSignSvg', () => {
  it('prints every field in both languages, escaped for XML', async () => {
    const svg = await renderSignSvg(sign(), A4);
    for (const field of FIELDS) {
      expect(printed(svg, 'body', field, 'zh')).toBe(squash(ZH[field] as string));
      expect(printed(svg, 'body', field, 'en')).toBe(squash(EN[field] as string));
    }
    expect(printed(svg, 'title', 'title', 'zh')).toBe(squash(ZH.title));
    expect(printed(svg, 'title', 'title', 'en')).toBe(squash(EN.title));
    expect(svg).toContain('Tel &lt;0755-8888 1234&gt; &amp; desk');
    expect(svg).not.toContain('<0755');
    for (const label of ['处理者', 'Handler', '收集的信息', 'Data collected', '如何行使', '保存期限', 'Retention']) {
      expect(textLines(svg).some((l) => l.role === 'label' && l.text.includes(label))).toBe(true);
    }
    await expect(sharp(Buffer.from(svg)).metadata()).resolves.toMatchObject({ format: 'svg' });
  });

  it('shows the face box only with face recognition, in larger type than the body', async () => {
    const svg = await renderSignSvg(sign(), A4);
    const lines = textLines(svg);
    const face = lines.filter((l) => l.role === 'face');
    const body = lines.filter((l) => l.role === 'body');
    expect(printed(svg, 'face', 'faceNecessity', 'zh')).toBe(squash(`必要性：${ZH.faceNecessity}`));
    expect(printed(svg, 'face', 'faceImpact', 'en')).toBe(squash(`How it affects you: ${EN.faceImpact}`));
    expect(Math.min(...face.map((l) => l.size))).toBeGreaterThan(Math.max(...body.map((l) => l.size)));
    // placed right under the header: the first thing after the title
    expect(lines.findIndex((l) => l.role === 'face-heading')).toBe(lines.filter((l) => l.role === 'title').length);

    const plain = await renderSignSvg(sign({ face: false }), A4);
    expect(plain).not.toMatch(/data-role="face/);
    expect(plain).not.toContain('人脸识别 ·');
  });

  it('sets large print at 1.5x the normal body size, in black on white', async () => {
    const normal = textLines(await renderSignSvg(sign({ face: false }), { paper: 'A3', largePrint: false }));
    const largeSvg = await renderSignSvg(sign({ face: false }), { paper: 'A3', largePrint: true });
    const large = textLines(largeSvg);
    const bodySize = (ls: Line[]): number => Math.min(...ls.filter((l) => l.role === 'body').map((l) => l.size));
    expect(bodySize(normal)).toBeCloseTo(14 * PT, 2);
    expect(bodySize(large)).toBeCloseTo(21 * PT, 2);
    expect(Math.min(...large.map((l) => l.size))).toBeGreaterThanOrEqual(21 * PT - 0.01);
    expect(large.filter((l) => l.role === 'body').length).toBeGreaterThan(0);
    expect(largeSvg).not.toMatch(/<text [^>]*fill="#(?!000000|ffffff|ffe100)/);
  });

  it('shrinks the type towards the floor before it gives up', async () => {
    const pt = async (opts: { paper: 'A4' | 'A3'; largePrint: boolean }): Promise<number> =>
      Number(/data-body-pt="([\d.]+)"/.exec(await renderSignSvg(sign(), opts))?.[1]);
    const normal = await pt(A4);
    expect(normal).toBeLessThan(14);
    expect(normal).toBeGreaterThanOrEqual(12);
    const large = await pt({ paper: 'A3', largePrint: true });
    expect(large).toBeLessThan(21);
    expect(large).toBeGreaterThanOrEqual(18);
  });

  it('refuses large print on A4, where 18 pt cannot hold the Art. 14 content, and suggests A3', async () => {
    const error = await renderSignSvg(sign({ face: false }), { paper: 'A4', largePrint: true }).catch((e: unknown) => e);
    expect(isCamwardenError(error, 'input.invalid')).toBe(true);
    expect((error as { field: string }).field).toBe('paper');
    expect((error as Error).message).toMatch(/A4 large print.*A3/);
  });

  it('refuses text too long for A4 with input.invalid and renders it on A3', async () => {
    const input = tooLongForA4();
    const error = await renderSignSvg(input, A4).catch((e: unknown) => e);
    expect(isCamwardenError(error, 'input.invalid')).toBe(true);
    expect((error as Error).message).toMatch(/A3/);
    const svg = await renderSignSvg(input, { paper: 'A3', largePrint: false });
    expect(svg).toContain('viewBox="0 0 297 420"');
    expect(Number(/data-body-pt="([\d.]+)"/.exec(svg)?.[1])).toBeGreaterThanOrEqual(12);
  });

  it('refuses a notice missing Art. 14 content and a rights URL that is not http(s)', async () => {
    const noRetention = sign({ en: { retention: ' ' } });
    await expect(renderSignSvg(noRetention, A4)).rejects.toMatchObject({ code: 'notice.incomplete' });
    const badUrl = { ...sign(), rightsUrl: 'javascript:alert(1)' };
    await expect(renderSignSvg(badUrl, A4)).rejects.toMatchObject({ code: 'input.invalid', field: 'rightsUrl' });
    const longUrl = { ...sign(), rightsUrl: `https://rights.example.cn/${'x'.repeat(400)}` };
    await expect(renderSignSvg(longUrl, A4)).rejects.toMatchObject({ code: 'input.invalid', field: 'rightsUrl' });
  });
});

describe('renderSignPng', () => {
  it('is A4 at 150 dpi by default: 1240 x 1754 px, density recorded', async () => {
    const meta = await sharp(await renderSignPng(sign(), A4)).metadata();
    expect(meta.format).toBe('png');
    expect(Math.abs((meta.width ?? 0) - 1240)).toBeLessThanOrEqual(1);
    expect(Math.abs((meta.height ?? 0) - 1754)).toBeLessThanOrEqual(1);
    expect(meta.density).toBe(150);
  });

  it('is A3 at 100 dpi: 1169 x 1654 px', async () => {
    const meta = await sharp(await renderSignPng(sign(), { paper: 'A3', largePrint: false, dpi: 100 })).metadata();
    expect(Math.abs((meta.width ?? 0) - 1169)).toBeLessThanOrEqual(1);
    expect(Math.abs((meta.height ?? 0) - 1654)).toBeLessThanOrEqual(1);
  });

  it.each([
    A4,
    { paper: 'A3', largePrint: true },
  ] as const)('has a QR code that decodes to the rights URL ($paper, large print $largePrint)', async (opts) => {
    expect(await decodeQr(await renderSignPng(sign(), opts))).toBe(URL_);
  });

  it('keeps every glyph inside the page margins, even for wide Latin and unbreakable words', async () => {
    const wide = sign({
      face: false,
      en: {
        handler: 'WWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWW',
        contact: 'MAMMOTH WAWAWAWA MMMMMM WWWWWW MOMOMOMOMO MWMWMWMW MMMMMMMM WWWWWWW MMM',
        rights: 'https://rights.example.cn/an/unbreakable/path/that/keeps/going/and/going/well/past/the/column',
      },
      zh: { security: '加密，'.repeat(24) },
    });
    expect(await inkInMargins(await renderSignPng(wide, { paper: 'A4', largePrint: false, dpi: 100 }), 100)).toBe(0);
  });
});

describe('renderSignText', () => {
  it('reads every field, Chinese then English, in the order of the sign, with the URL spelled out', () => {
    const text = renderSignText(sign());
    const order = ['title', 'faceNecessity', 'faceImpact', ...FIELDS] as const;
    const expected = [
      ...order.map((f) => ZH[f] as string),
      URL_,
      ...order.map((f) => EN[f] as string),
      URL_,
    ];
    let at = -1;
    for (const piece of expected) {
      const next = text.indexOf(piece, at + 1);
      expect(next, piece).toBeGreaterThan(at);
      at = next;
    }
    expect(text).toContain('联系方式：电话 0755-8888 1234 & 服务台 <一楼>');
    expect(text).toContain('How to exercise them: Scan the code or ask the desk.');
    expect(text).toContain('Notice ID: N-7');
    expect(text).toContain('Valid until: 2025-09-01');
    expect(text).not.toMatch(/[*•#|<>]{2}|&amp;|&lt;/);
  });

  it('leaves out the face section when face recognition is off', () => {
    expect(renderSignText(sign({ face: false }))).not.toContain('人脸识别');
  });
});

/** config/notice.example.yaml as `notice add` stores it: realistic bilingual text with face recognition. */
function exampleNotice(): SignInput {
  const doc = parse(readFileSync('config/notice.example.yaml', 'utf8')) as NoticeContent & { cameras: string[] };
  return {
    id: 'N-2025-0042',
    rightsUrl: 'https://rights.example.cn/s/futian-plaza/n/N-2025-0042',
    cameras: doc.cameras,
    verifiedAt: '2025-03-01T02:00:00Z',
    expiresAt: '2025-09-01',
    site: { name: '福田广场 Futian Plaza' },
    content: { terms: doc.terms, text: doc.text, placement: doc.placement },
  };
}

const bodyPt = (svg: string): number => Number(/data-body-pt="([\d.]+)"/.exec(svg)?.[1]);
const FLOOR_PT = { normal: 12, large: 18 };

describe('renderSignPages', () => {
  it('returns the single-page sign unchanged when it fits one page', async () => {
    expect(await renderSignPages(sign(), A4)).toEqual([await renderSignSvg(sign(), A4)]);
    const a3 = { paper: 'A3', largePrint: true } as const;
    expect(await renderSignPages(sign({ face: false }), a3)).toEqual([await renderSignSvg(sign({ face: false }), a3)]);
  });

  it.each([
    { paper: 'A4', largePrint: false },
    { paper: 'A3', largePrint: false },
    { paper: 'A4', largePrint: true },
    { paper: 'A3', largePrint: true },
  ] as const)('prints the example notice whole on $paper (large print $largePrint), every page at or above the floor and scannable', async (opts) => {
    const input = exampleNotice();
    const pages = await renderSignPages(input, opts);
    expect(pages.length).toBeGreaterThanOrEqual(1);
    if (opts.paper === 'A4' && opts.largePrint) expect(pages.length).toBeGreaterThan(1);
    const floor = FLOOR_PT[opts.largePrint ? 'large' : 'normal'];
    for (const svg of pages) expect(bodyPt(svg)).toBeGreaterThanOrEqual(floor);

    const text = input.content.text;
    for (const lang of ['zh', 'en'] as const) {
      const t = text[lang] as NoticeText;
      const where = (role: string, field: string): number[] =>
        pages.flatMap((svg, k) => (printed(svg, role, field, lang).includes(squash(t[field as keyof NoticeText] ?? '')) ? [k] : []));
      // never split: each field's text is whole on exactly one page
      for (const field of FIELDS) expect(where('body', field), `${lang}.${field}`).toHaveLength(1);
      for (const field of ['faceNecessity', 'faceImpact']) expect(where('face', field), `${lang}.${field}`).toEqual([0]);
      expect(where('title', 'title')).toContain(0);
    }

    const pngs = await renderSignPngPages(input, { ...opts, dpi: 100 });
    expect(pngs).toHaveLength(pages.length);
    for (const png of pngs) {
      expect(await decodeQr(png)).toBe(input.rightsUrl);
      expect(await inkInMargins(png, 100)).toBe(0);
    }
  });

  it('keeps the face box on page 1 and marks later pages as continued, numbered, with the notice ID', async () => {
    const pages = await renderSignPages(exampleNotice(), { paper: 'A4', largePrint: true });
    const m = pages.length;
    expect(textLines(pages[0] as string).some((l) => l.role === 'face-heading')).toBe(true);
    expect(pages[0]).toContain(`page 1 of ${m}`);
    pages.slice(1).forEach((svg, i) => {
      const header = textLines(svg).filter((l) => l.role === 'continued').map((l) => l.text).join(' ');
      expect(header).toContain('续');
      expect(header).toContain('continued');
      expect(header).toContain(`${i + 2} / ${m}`);
      expect(header).toContain('N-2025-0042');
      expect(svg).not.toMatch(/data-role="face/);
      expect(svg).toContain(`data-page="${i + 2}" data-pages="${m}"`);
    });
  });

  it('sets large print one language per sheet after page 1, Chinese first', async () => {
    const pages = await renderSignPages(exampleNotice(), { paper: 'A4', largePrint: true });
    const langs = pages.slice(1).map((svg) => [...new Set(textLines(svg).filter((l) => l.role === 'body').map((l) => l.lang))]);
    for (const l of langs) expect(l.length).toBeLessThanOrEqual(1);
    expect(langs.flat()).toEqual(expect.arrayContaining(['zh', 'en']));
    expect(langs.flat().indexOf('zh')).toBeLessThan(langs.flat().indexOf('en'));
  });

  it('refuses a field too long for a whole page with input.invalid naming the field', async () => {
    const input = exampleNotice();
    const en = input.content.text.en as NoticeText;
    const long = { ...input, content: { ...input.content, text: { ...input.content.text, en: { ...en, method: Array(40).fill(en.method).join(' ') } } } };
    for (const largePrint of [false, true]) {
      const error = await renderSignPages(long, { paper: 'A4', largePrint }).catch((e: unknown) => e);
      expect(isCamwardenError(error, 'input.invalid')).toBe(true);
      expect((error as { field: string }).field).toBe('text.en.method');
    }
    // Shenzhen Art. 14: the face box is not moved off page 1 to make it fit.
    const face = { ...input, content: { ...input.content, text: { ...input.content.text, en: { ...en, faceImpact: Array(6).fill(en.faceImpact).join(' ') } } } };
    await expect(renderSignPages(face, { paper: 'A4', largePrint: true })).rejects.toMatchObject({ code: 'input.invalid', field: 'text.en.faceImpact' });
  });
});
