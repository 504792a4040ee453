import type { NoticeText } from './notice-content.js';
import type { PaperSize, SignInput } from './render-sign.js';
import { FONT_FAMILY, LINE, Page, cameraIcon, escapeXml, n, qrCode, rect, type TextStyle } from './sign-svg.js';
import { textWidth, wrapText } from './text-wrap.js';

/**
 * Lays the sign out at one body size, on one page or flowed over several; render-sign.ts picks
 * the size. Units are millimetres.
 */

export const PAPERS: Record<PaperSize, { width: number; height: number }> = {
  A4: { width: 210, height: 297 },
  A3: { width: 297, height: 420 },
};

export const MM_PER_PT = 25.4 / 72;

/** 38 mm on A4: modules near 1 mm for a typical rights URL, scannable from a step away. */
export function qrSide(paper: PaperSize): number {
  return 0.18 * PAPERS[paper].width;
}

/** Shenzhen Art. 14: every item the sign must state, in the order a reader meets them. */
export const FIELD_LABELS: readonly { field: keyof NoticeText; zh: string; en: string }[] = [
  { field: 'handler', zh: '处理者', en: 'Handler' },
  { field: 'contact', zh: '联系方式', en: 'Contact' },
  { field: 'dataTypes', zh: '收集的信息', en: 'Data collected' },
  { field: 'purpose', zh: '目的', en: 'Purpose' },
  { field: 'method', zh: '方式', en: 'Method' },
  { field: 'retention', zh: '保存期限', en: 'Retention' },
  { field: 'security', zh: '安全措施', en: 'Security' },
  { field: 'rights', zh: '您的权利', en: 'Your rights' },
  { field: 'howToExercise', zh: '如何行使', en: 'How to exercise them' },
];

export const FACE_LABELS = {
  heading: { zh: '人脸识别', en: 'Face recognition in use' },
  fields: [
    { field: 'faceNecessity', zh: '必要性', en: 'Why it is necessary' },
    { field: 'faceImpact', zh: '对您的影响', en: 'How it affects you' },
  ],
} as const satisfies {
  heading: { zh: string; en: string };
  fields: readonly { field: keyof NoticeText; zh: string; en: string }[];
};

export const FOOTER_LABELS = {
  scan: { zh: '扫码查看并行使您的权利', en: 'Scan to read and exercise your rights' },
  site: { zh: '场所', en: 'Site' },
  cameras: { zh: '覆盖摄像头', en: 'Cameras covered' },
  id: { zh: '告示编号', en: 'Notice ID' },
  verified: { zh: '核验日期', en: 'Verified' },
  expires: { zh: '有效期至', en: 'Valid until' },
  validityUnknown: { zh: '有效期以二维码页面为准', en: 'Validity: see the page behind the QR code' },
  continued: { zh: '续', en: 'continued' },
} as const;

export interface Theme {
  band: string;
  bandText: string;
  ink: string;
  inkEn: string;
  label: string;
  rule: string;
  ruleWidth: number;
  faceFill: string;
  faceBorder: string;
  faceBorderWidth: number;
  faceStrip: string;
  faceStripText: string;
  /**
   * Labels run into their text ("处理者：…") instead of a label column: at large sizes a column
   * would wrap "How to exercise them" over three lines and cost a quarter of the width.
   */
  runInLabels: boolean;
}

export const NORMAL_THEME: Theme = {
  band: '#0b3c7d', bandText: '#ffffff', ink: '#111111', inkEn: '#3a3a3a', label: '#0b3c7d',
  rule: '#aab4c3', ruleWidth: 0.3, faceFill: '#fff4c4', faceBorder: '#000000', faceBorderWidth: 1.2,
  faceStrip: '#000000', faceStripText: '#ffd400', runInLabels: false,
};

// Measures Art. 5 (accessible to elderly and disabled people): pure black on white, heavier rules.
export const LARGE_THEME: Theme = {
  band: '#000000', bandText: '#ffffff', ink: '#000000', inkEn: '#000000', label: '#000000',
  rule: '#000000', ruleWidth: 0.5, faceFill: '#fff1a8', faceBorder: '#000000', faceBorderWidth: 1.8,
  faceStrip: '#000000', faceStripText: '#ffe100', runInLabels: true,
};

export const FACE_SCALE = 1.2; // face text is bigger than the body: Shenzhen Art. 14 "more prominent"

export interface Layout {
  svg: string;
  /** How far the content runs past the space it has, mm; <= 0 means it fits. */
  overflow: number;
}

interface BandRow {
  text: string;
  /** Font size in body sizes. */
  scale: number;
  style: Omit<TextStyle, 'size' | 'fill'>;
}

/** A dark band with the camera icon and rows of text: the title, or a continuation page's header. */
function band(p: Page, x: number, top: number, width: number, iconScale: number, rows: BandRow[]): number {
  const b = p.body;
  const pad = 0.7 * b;
  const icon = iconScale * b;
  const tx = x + pad + icon + pad;
  const tw = width - (tx - x) - pad;
  const wrapped = rows.map((r) => wrapText(r.text, tw, r.scale * b, r.style.bold));
  const textH = rows.reduce((h, r, i) => h + (wrapped[i] as string[]).length * r.scale, 0) * b * LINE;
  const height = Math.max(icon, textH) + 2 * pad;
  p.parts.push(rect(x, top, width, height, `fill="${p.theme.band}" rx="${n(0.4 * b)}"`));
  p.parts.push(cameraIcon(x + pad, top + (height - icon) / 2, icon, p.theme.bandText));
  let y = top + (height - textH) / 2;
  rows.forEach((r, i) => {
    y += p.lines(wrapped[i] as string[], tx, y, { ...r.style, size: r.scale * b, fill: p.theme.bandText });
  });
  return height;
}

function header(p: Page, input: SignInput, x: number, top: number, width: number): number {
  const { zh, en } = input.content.text;
  const title = { bold: true, role: 'title', field: 'title' } as const;
  const rows: BandRow[] = [{ text: zh.title, scale: 2, style: { ...title, lang: 'zh' } }];
  if (en !== undefined) rows.push({ text: en.title, scale: 1.35, style: { ...title, lang: 'en' } });
  return band(p, x, top, width, 3.4, rows);
}

/** Page `page` of `pages`: the reader learns there is more and which sign it belongs to. */
function pageLabel(page: number, pages: number): { zh: string; en: string } {
  return { zh: `第 ${page} 页，共 ${pages} 页`, en: `page ${page} of ${pages}` };
}

/** A continuation page's smaller header: enough to tie a loose sheet to its sign. */
function continuedHeader(p: Page, input: SignInput, page: number, pages: number, x: number, top: number, width: number): number {
  const L = FOOTER_LABELS;
  return band(p, x, top, width, 2.2, [
    { text: `${L.continued.zh} · ${L.continued.en} · ${page} / ${pages}`, scale: 1.2, style: { bold: true, role: 'continued' } },
    { text: `${L.id.zh} ${L.id.en}: ${input.id}`, scale: 1, style: { role: 'continued' } },
  ]);
}

function faceBox(p: Page, text: SignInput['content']['text'], x: number, top: number, width: number): number {
  const { theme } = p;
  const size = FACE_SCALE * p.body;
  const pad = 0.8 * p.body;
  const inner = width - 2 * pad - theme.faceBorderWidth;
  const heading = `${FACE_LABELS.heading.zh} · ${FACE_LABELS.heading.en}`;
  const start = p.parts.length;
  let y = top + theme.faceBorderWidth / 2 + 0.35 * size;
  const stripStyle = { size: 1.2 * size, fill: theme.faceStripText, bold: true, role: 'face-heading' };
  const stripH = wrapText(heading, inner, stripStyle.size, true).length * stripStyle.size * LINE + 0.7 * size;
  p.parts.push(rect(x, top, width, stripH + theme.faceBorderWidth / 2, `fill="${theme.faceStrip}"`));
  y += p.para(heading, x + pad, y, inner, stripStyle) + 0.35 * size + pad * 0.7;
  for (const label of FACE_LABELS.fields) {
    for (const lang of ['zh', 'en'] as const) {
      const value = text[lang]?.[label.field];
      if (value === undefined) continue;
      const style = { size, fill: lang === 'zh' ? theme.ink : theme.inkEn, role: 'face', field: label.field, lang };
      y += p.para(value, x + pad, y, inner, style, lang === 'zh' ? `${label.zh}：` : `${label.en}: `);
    }
    y += 0.4 * size;
  }
  const height = y - top + pad * 0.6;
  const bw = theme.faceBorderWidth;
  p.parts.splice(start, 0, rect(x, top, width, height, `fill="${theme.faceFill}"`));
  const border = `fill="none" stroke="${theme.faceBorder}" stroke-width="${bw}"`;
  p.parts.push(rect(x + bw / 2, top + bw / 2, width - bw, height - bw, border));
  return height;
}

type SignText = SignInput['content']['text'];
type Lang = 'zh' | 'en';

/** Where the field rows put their labels and text; shared by every row so the columns line up. */
interface RowGeometry {
  labelW: number;
  tx: number;
  tw: number;
  /** The tab stop of the English half of a side-by-side row; 0 when no row is set that way. */
  tab: number;
  widths: ({ zh: number; en: number } | undefined)[];
}

const PAIR_GAP = 1.5; // between the halves of a side-by-side row, in body sizes
const zhLead = (theme: Theme, l: { zh: string }): string => (theme.runInLabels ? `${l.zh}：` : '');
const enLead = (theme: Theme, l: { en: string }): string => (theme.runInLabels ? `${l.en}: ` : '');

function rowGeometry(p: Page, text: SignText, x: number, width: number): RowGeometry {
  const b = p.body;
  const { theme } = p;
  // The label column is as wide as its longest unbreakable piece, within sane bounds.
  const longest = Math.max(
    ...FIELD_LABELS.flatMap(({ zh, en }) => [textWidth(zh, b, true), ...en.split(' ').map((w) => textWidth(w, b))]),
  );
  const labelW = theme.runInLabels ? 0 : Math.min(Math.max(longest + 0.5 * b, 0.18 * width), 0.32 * width);
  const gap = theme.runInLabels ? 0 : 0.9 * b;
  const tw = width - labelW - gap;
  // Run-in rows whose two languages fit side by side share a line, as bilingual signs do
  // ("出口 Exit"), with the English aligned on one tab stop; at large-print sizes that is what
  // lets a sign fit its sheet.
  const widths = FIELD_LABELS.map((l) => {
    const zhValue = text.zh[l.field] ?? '';
    const enValue = text.en?.[l.field];
    if (!theme.runInLabels || enValue === undefined || /\n/.test(zhValue + enValue)) return undefined;
    return {
      zh: textWidth(zhLead(theme, l), b, true) + textWidth(zhValue, b),
      en: textWidth(enLead(theme, l), b, true) + textWidth(enValue, b),
    };
  });
  const pairGap = PAIR_GAP * b;
  const tab = Math.max(0, ...widths.map((w) => (w !== undefined && w.zh + pairGap + w.en <= tw ? w.zh + pairGap : 0)));
  return { labelW, tx: x + labelW + gap, tw, tab, widths };
}

/** Draws row `i` from `y` in both languages, or in `only` one; returns the row's bottom. */
function fieldRow(p: Page, text: SignText, g: RowGeometry, i: number, x: number, y: number, only?: Lang): number {
  const b = p.body;
  const { theme } = p;
  const label = FIELD_LABELS[i] as (typeof FIELD_LABELS)[number];
  const { field, zh, en } = label;
  const { tx, tw, tab, labelW } = g;
  const rowTop = y + 0.25 * b;
  let labelH = 0;
  if (!theme.runInLabels) {
    const style = { size: b, fill: theme.label, role: 'label', field } as const;
    if (only !== 'en') labelH += p.para(zh, x, rowTop, labelW, { ...style, bold: true, lang: 'zh' });
    if (only !== 'zh') labelH += p.para(en, x, rowTop + labelH, labelW, { ...style, lang: 'en' });
  }
  const zhValue = only === 'en' ? undefined : (text.zh[field] ?? '');
  const enValue = only === 'zh' ? undefined : text.en?.[field];
  const zhStyle = { size: b, fill: theme.ink, role: 'body', field, lang: 'zh' } as const;
  const enStyle = { size: b, fill: theme.inkEn, role: 'body', field, lang: 'en' } as const;
  const w = g.widths[i];
  const sideBySide = only === undefined && w !== undefined && tab > 0 && w.zh + PAIR_GAP * b <= tab && tab + w.en <= tw;
  let textH = zhValue === undefined ? 0 : p.para(zhValue, tx, rowTop, tw, zhStyle, zhLead(theme, label));
  if (enValue !== undefined && sideBySide) {
    p.para(enValue, tx + tab, rowTop, tw - tab, enStyle, enLead(theme, label));
  } else if (enValue !== undefined) {
    if (zhValue !== undefined) textH += 0.15 * b;
    textH += p.para(enValue, tx, rowTop + textH, tw, enStyle, enLead(theme, label));
  }
  return rowTop + Math.max(labelH, textH) + 0.25 * b;
}

function rule(p: Page, x: number, y: number, width: number): void {
  p.parts.push(`<path d="M${n(x)} ${n(y)}H${n(x + width)}" stroke="${p.theme.rule}" stroke-width="${p.theme.ruleWidth}"/>`);
}

function fieldRows(p: Page, text: SignText, x: number, top: number, width: number): number {
  const g = rowGeometry(p, text, x, width);
  let y = top;
  FIELD_LABELS.forEach((_, i) => {
    y = fieldRow(p, text, g, i, x, y);
    if (i < FIELD_LABELS.length - 1) rule(p, x, y, width);
  });
  return y - top;
}

/** Dates are printed as their date part: a sign is read by the day, not the second. */
function day(value: string): string {
  return /^\d{4}-\d{2}-\d{2}/.test(value) ? value.slice(0, 10) : value;
}

export interface FooterItem {
  label: { zh: string; en: string };
  value?: string;
}

/** What the sign says beside its QR code, one row per printed line; shared with the plain text. */
export function footerItems(input: SignInput): FooterItem[][] {
  const L = FOOTER_LABELS;
  const validity: FooterItem[] = [];
  if (input.verifiedAt !== undefined) validity.push({ label: L.verified, value: day(input.verifiedAt) });
  if (input.expiresAt !== undefined) validity.push({ label: L.expires, value: day(input.expiresAt) });
  if (validity.length === 0) validity.push({ label: L.validityUnknown });
  return [
    [{ label: L.site, value: input.site.name }],
    [{ label: L.cameras, value: input.cameras.join(', ') }],
    [{ label: L.id, value: input.id }],
    validity,
  ];
}

function footerLine(row: FooterItem[]): string {
  return row.map(({ label, value }) => `${label.zh} ${label.en}${value === undefined ? '' : `: ${value}`}`).join(' · ');
}

/**
 * The QR block sits at the foot of the page, so spare room on a big sheet falls above it. The
 * single-page sign writes the URL under the code; pages set it beside the code (`urlBeside`),
 * where it costs no height of its own and leaves large print a few more lines of text.
 */
type Footer = { svg: string[]; height: number };
interface FooterOptions {
  rows: FooterItem[][];
  urlBeside?: boolean;
}
function footer(p: Page, input: SignInput, x: number, bottom: number, width: number, qrSide: number, o: FooterOptions): Footer {
  const b = p.body;
  const sub = new Page(b, p.theme);
  const gap = 1.2 * b;
  const ix = x + qrSide + gap;
  const iw = width - qrSide - gap;
  let y = 0;
  const bold = { size: b, fill: p.theme.label, bold: true, role: 'scan' };
  y += sub.para(`${FOOTER_LABELS.scan.zh} ${FOOTER_LABELS.scan.en}`, ix, y, iw, bold);
  y += 0.3 * b;
  for (const row of o.rows) y += sub.para(footerLine(row), ix, y, iw, { size: b, fill: p.theme.ink, role: 'footer' });
  const url = { size: b, fill: p.theme.ink, bold: true, role: 'url' };
  let height: number;
  if (o.urlBeside === true) {
    height = Math.max(qrSide, y + 0.3 * b + sub.para(input.rightsUrl, ix, y + 0.3 * b, iw, url));
  } else {
    const urlTop = Math.max(qrSide, y) + 0.4 * b;
    height = urlTop + sub.para(input.rightsUrl, x, urlTop, width, url);
  }
  const top = bottom - height;
  return {
    height,
    svg: [
      `<path d="M${n(x)} ${n(top - 0.8 * b)}H${n(x + width)}" stroke="${p.theme.rule}" stroke-width="${n(p.theme.ruleWidth * 2)}"/>`,
      qrCode(input.rightsUrl, x, top, qrSide, '#000000'),
      `<g transform="translate(0 ${n(top)})">${sub.parts.join('')}</g>`,
    ],
  };
}

function svgDocument(paper: PaperSize, body: number, title: string, parts: string[], attrs = ''): string {
  const { width: pw, height: ph } = PAPERS[paper];
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${pw}mm" height="${ph}mm" viewBox="0 0 ${pw} ${ph}" ` +
    `font-family="${FONT_FAMILY}" data-paper="${paper}" data-body-pt="${n(body / MM_PER_PT)}"${attrs}>` +
    `<title>${escapeXml(title)}</title>` +
    rect(0, 0, pw, ph, 'fill="#ffffff"') +
    parts.join('') +
    '</svg>'
  );
}

function titles(input: SignInput): string {
  return [input.content.text.zh.title, input.content.text.en?.title].filter((t) => t !== undefined).join(' / ');
}

/** About 10 mm on A4: inside every office printer's unprintable edge. */
const margin = (paper: PaperSize): number => PAPERS[paper].width * 0.048;
/** Space kept between the text and the rule above the QR block, in body sizes. */
const FOOT_GAP = 1.6;

export function layoutSign(input: SignInput, paper: PaperSize, theme: Theme, body: number): Layout {
  const { width: pw, height: ph } = PAPERS[paper];
  const m = margin(paper);
  const width = pw - 2 * m;
  const p = new Page(body, theme);
  let y = m;
  y += header(p, input, m, y, width) + 0.7 * body;
  if (input.content.terms.faceRecognition) y += faceBox(p, input.content.text, m, y, width) + 0.5 * body;
  y += fieldRows(p, input.content.text, m, y, width);
  const foot = footer(p, input, m, ph - m, width, qrSide(paper), { rows: footerItems(input) });
  return {
    svg: svgDocument(paper, body, titles(input), [...p.parts, ...foot.svg]),
    overflow: y + FOOT_GAP * body - (ph - m - foot.height),
  };
}

/** A run of the sign never split across pages: one field, in both languages or in one. */
interface Block {
  svg: string;
  height: number;
  /** The key path an error names when the block fits no page, e.g. `text.en.method`. */
  field: string;
  /** Blocks of one section ('zh', 'en', 'both', 'details') are kept on one sheet when they fit it. */
  section: string;
}

export type Pagination = { pages: string[]; brokenSections: number } | { tooLong: string };

/**
 * The sign flowed over pages of one size at one body size. Page 1 keeps the header band, the face
 * box (Shenzhen Art. 14: most prominent) and the QR code; later pages get a smaller header and the
 * QR code again, so any sheet leads to the rights page. `byLanguage` sets all the Chinese rows,
 * then all the English ones from a fresh page, each language kept on one sheet when it fits one,
 * instead of pairing them per field: at large-print sizes a paired row is two blocks of different
 * scripts that a reader has to pick apart line by line. Reports the field that fits no page when
 * that is what stops it, and how many sections run over more than one sheet.
 */
export function layoutPages(input: SignInput, paper: PaperSize, theme: Theme, body: number, byLanguage: boolean): Pagination {
  const { width: pw, height: ph } = PAPERS[paper];
  const m = margin(paper);
  const width = pw - 2 * m;
  const b = body;
  const text = input.content.text;
  const face = input.content.terms.faceRecognition;
  const foot = (p: Page, rows: FooterItem[][]): Footer => footer(p, input, m, ph - m, width, qrSide(paper), { rows, urlBeside: true });
  const count = (page: number, pages: number): FooterItem[][] => [[{ label: pageLabel(page, pages) }]];
  const withDetails = (page: number, pages: number): FooterItem[][] => [...footerItems(input), ...count(page, pages)];
  const first = new Page(b, theme);
  let firstTop = m + header(first, input, m, m, width) + 0.7 * b;
  if (face) firstTop += faceBox(first, text, m, firstTop, width) + 0.5 * b;
  // Site, cameras, ID and validity stay beside the QR code when they fit in its height; in large
  // print they would double the footer, so they follow the text instead. Measured with two-digit
  // page numbers: fewer digits never take more lines.
  const detailsBeside = foot(first, withDetails(99, 99)).height <= foot(first, count(99, 99)).height;
  const firstFoot = detailsBeside ? withDetails : count;
  const firstEnd = ph - m - foot(first, firstFoot(99, 99)).height - FOOT_GAP * b;
  const probe = new Page(b, theme);
  const nextTop = m + continuedHeader(probe, input, 99, 99, m, m, width) + 0.7 * b;
  const room = ph - m - foot(probe, count(99, 99)).height - FOOT_GAP * b - nextTop;
  if (firstTop > firstEnd) return { tooLong: face ? longestFaceField(text) : 'text.zh.title' };

  const g = rowGeometry(probe, text, m, width);
  const block = (i: number, only?: Lang): Block => {
    const p = new Page(b, theme);
    let y = 0;
    if (byLanguage && only === 'en' && i === 0 && text.en !== undefined) {
      // The English pages open with the title in English: the band above them is bilingual.
      const style = { size: 1.35 * b, fill: theme.label, bold: true, role: 'title', field: 'title', lang: 'en' } as const;
      y += p.para(text.en.title, m, 0.25 * b, width, style) + 0.5 * b;
    }
    const height = fieldRow(p, text, g, i, m, y, only);
    const field = (FIELD_LABELS[i] as (typeof FIELD_LABELS)[number]).field;
    return { svg: p.parts.join(''), height, field: `text.${only ?? 'zh'}.${field}`, section: only ?? 'both' };
  };
  const langs: Lang[] = text.en === undefined ? ['zh'] : ['zh', 'en'];
  const blocks = byLanguage
    ? langs.flatMap((lang) => FIELD_LABELS.map((_, i) => block(i, lang)))
    : FIELD_LABELS.flatMap((_, i) => {
        const both = block(i);
        return both.height <= room ? [both] : langs.map((lang) => block(i, lang));
      });
  if (!detailsBeside) blocks.push(detailsBlock(new Page(b, theme), input, m, width));
  const tooLong = blocks.find((blk) => blk.height > room);
  if (tooLong !== undefined) return { tooLong: tooLong.field };

  const pages: { block: Block; y: number }[][] = [];
  let y = firstTop;
  let end = firstEnd;
  let page: { block: Block; y: number }[] = [];
  const turn = (): void => {
    pages.push(page);
    page = [];
    y = nextTop;
    end = nextTop + room;
  };
  blocks.forEach((blk, i) => {
    const opens = blk.section !== blocks[i - 1]?.section;
    const sectionH = blocks.filter((s) => s.section === blk.section).reduce((h, s) => h + s.height, 0);
    const fresh = pages.length > 0 && page.length === 0;
    const newLanguage = byLanguage && opens && blk.section === 'en';
    const keepTogether = byLanguage && opens && y + sectionH > end && sectionH <= room;
    if (!fresh && (newLanguage || keepTogether || y + blk.height > end)) turn();
    page.push({ block: blk, y });
    y += blk.height;
  });
  pages.push(page);
  const sections = new Set(blocks.map((blk) => blk.section));
  const brokenSections = [...sections].filter((s) => pages.filter((pg) => pg.some((e) => e.block.section === s)).length > 1).length;

  return {
    brokenSections,
    pages: pages.map((placed, k) => {
      const p = k === 0 ? first : new Page(b, theme);
      if (k > 0) continuedHeader(p, input, k + 1, pages.length, m, m, width);
      placed.forEach(({ block: blk, y: top }, i) => {
        if (i > 0) rule(p, m, top, width);
        p.parts.push(`<g transform="translate(0 ${n(top)})">${blk.svg}</g>`);
      });
      const f = foot(p, (k === 0 ? firstFoot : count)(k + 1, pages.length));
      const attrs = ` data-page="${k + 1}" data-pages="${pages.length}"`;
      return svgDocument(paper, b, `${titles(input)} (${k + 1}/${pages.length})`, [...p.parts, ...f.svg], attrs);
    }),
  };
}

function longestFaceField(text: SignText): string {
  const candidates = (['zh', 'en'] as const).flatMap((lang) =>
    FACE_LABELS.fields.map(({ field }) => ({ path: `text.${lang}.${field}`, width: textWidth(text[lang]?.[field] ?? '', 1) })),
  );
  return candidates.reduce((a, c) => (c.width > a.width ? c : a)).path;
}

/** The footer's details as a block of text, for when they do not fit beside the QR code. */
function detailsBlock(p: Page, input: SignInput, x: number, width: number): Block {
  let y = 0.25 * p.body;
  for (const row of footerItems(input)) y += p.para(footerLine(row), x, y, width, { size: p.body, fill: p.theme.ink, role: 'footer' });
  return { svg: p.parts.join(''), height: y + 0.25 * p.body, field: 'site', section: 'details' };
}
