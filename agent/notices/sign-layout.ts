import type { NoticeText } from './notice-content.js';
import type { PaperSize, SignInput } from './render-sign.js';
import { FONT_FAMILY, LINE, Page, cameraIcon, escapeXml, n, qrCode, rect } from './sign-svg.js';
import { textWidth, wrapText } from './text-wrap.js';

/** Lays the sign out at one body size; render-sign.ts picks the size. Units are millimetres. */

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

function header(p: Page, input: SignInput, x: number, top: number, width: number): number {
  const b = p.body;
  const pad = 0.7 * b;
  const icon = 3.4 * b;
  const tx = x + pad + icon + pad;
  const tw = width - (tx - x) - pad;
  const { zh, en } = input.content.text;
  const zhLines = wrapText(zh.title, tw, 2 * b, true);
  const enLines = en === undefined ? [] : wrapText(en.title, tw, 1.35 * b, true);
  const textH = (zhLines.length * 2 + enLines.length * 1.35) * b * LINE;
  const height = Math.max(icon, textH) + 2 * pad;
  p.parts.push(rect(x, top, width, height, `fill="${p.theme.band}" rx="${n(0.4 * b)}"`));
  p.parts.push(cameraIcon(x + pad, top + (height - icon) / 2, icon, p.theme.bandText));
  let y = top + (height - textH) / 2;
  const style = { fill: p.theme.bandText, bold: true, role: 'title', field: 'title' };
  y += p.lines(zhLines, tx, y, { ...style, size: 2 * b, lang: 'zh' });
  p.lines(enLines, tx, y, { ...style, size: 1.35 * b, lang: 'en' });
  return height;
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

/** The QR block sits at the foot of the page, so spare room on a big sheet falls above it. */
type Footer = { svg: string[]; height: number };
function footer(p: Page, input: SignInput, x: number, bottom: number, width: number, qrSide: number): Footer {
  const b = p.body;
  const sub = new Page(b, p.theme);
  const gap = 1.2 * b;
  const ix = x + qrSide + gap;
  const iw = width - qrSide - gap;
  let y = 0;
  const bold = { size: b, fill: p.theme.label, bold: true, role: 'scan' };
  y += sub.para(`${FOOTER_LABELS.scan.zh} ${FOOTER_LABELS.scan.en}`, ix, y, iw, bold);
  y += 0.3 * b;
  for (const row of footerItems(input)) {
    const line = row
      .map(({ label, value }) => (value === undefined ? `${label.zh} ${label.en}` : `${label.zh} ${label.en}: ${value}`))
      .join(' · ');
    y += sub.para(line, ix, y, iw, { size: b, fill: p.theme.ink, role: 'footer' });
  }
  const urlTop = Math.max(qrSide, y) + 0.4 * b;
  const urlH = sub.para(input.rightsUrl, x, urlTop, width, { size: b, fill: p.theme.ink, bold: true, role: 'url' });
  const height = urlTop + urlH;
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

export function layoutSign(input: SignInput, paper: PaperSize, theme: Theme, body: number): Layout {
  const { width: pw, height: ph } = PAPERS[paper];
  const margin = pw * 0.048; // about 10 mm on A4: inside every office printer's unprintable edge
  const width = pw - 2 * margin;
  const p = new Page(body, theme);
  let y = margin;
  y += header(p, input, margin, y, width) + 0.7 * body;
  if (input.content.terms.faceRecognition) y += faceBox(p, input.content.text, margin, y, width) + 0.5 * body;
  y += fieldRows(p, input.content.text, margin, y, width);
  const foot = footer(p, input, margin, ph - margin, width, qrSide(paper));
  const titles = [input.content.text.zh.title, input.content.text.en?.title].filter((t) => t !== undefined).join(' / ');
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${pw}mm" height="${ph}mm" viewBox="0 0 ${pw} ${ph}" ` +
    `font-family="${FONT_FAMILY}" data-paper="${paper}" data-body-pt="${n(body / MM_PER_PT)}">` +
    `<title>${escapeXml(titles)}</title>` +
    rect(0, 0, pw, ph, 'fill="#ffffff"') +
    p.parts.join('') +
    foot.svg.join('') +
    '</svg>';
  return { svg, overflow: y + 1.6 * body - (ph - margin - foot.height) };
}
