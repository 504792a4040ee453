import { create as createQr } from 'qrcode';
import { CamwardenError } from '../errors.js';
import { loadSharp } from '../lazy-sharp.js';
import { checkNoticeContent, type NoticeContent, type NoticeText } from './notice-content.js';
import {
  FACE_LABELS,
  FIELD_LABELS,
  LARGE_THEME,
  MM_PER_PT,
  NORMAL_THEME,
  PAPERS,
  footerItems,
  layoutPages,
  layoutSign,
  qrSide,
  type Pagination,
  type Theme,
} from './sign-layout.js';

/** The printable sign behind `camwarden notice render ID` (DESIGN: Notice; R1, R2, R18). */

export interface SignInput {
  id: string;
  content: NoticeContent;
  rightsUrl: string;
  cameras: string[];
  verifiedAt?: string;
  expiresAt?: string;
  site: { name: string };
}

export type PaperSize = 'A4' | 'A3';

export interface SignOptions {
  paper: PaperSize;
  largePrint: boolean;
}

// Body sizes in points at print size. Each variant takes the largest size that fits, down to its
// legibility floor. Large print is Measures Art. 5's accessible variant: its nominal size and its
// floor are both 1.5x the normal sign's. The ladders are independent so that a longer text never
// fits where a shorter one fails.
const NORMAL_PT = { preferred: 14, floor: 12 };
const LARGE_PT = { preferred: 21, floor: 18 };
const STEP_PT = 0.5;

/** Modules smaller than this stop cheap phone cameras from reading the code at arm's length. */
const MIN_QR_MODULE_MM = 0.6;

function validate(input: SignInput, paper: PaperSize): void {
  // Shenzhen Art. 14: a sign that leaves out a required item is not printed at all.
  checkNoticeContent(input.content);
  if (!/^https?:\/\/\S+$/u.test(input.rightsUrl)) {
    const got = JSON.stringify(input.rightsUrl);
    throw new CamwardenError('input.invalid', `rights URL must be an http(s) URL, got ${got}`, { field: 'rightsUrl' });
  }
  const modules = createQr(input.rightsUrl, { errorCorrectionLevel: 'M' }).modules.size + 8;
  if (qrSide(paper) / modules < MIN_QR_MODULE_MM) {
    const message = `rights URL is too long for a QR code that scans on ${paper}; use a shorter URL`;
    throw new CamwardenError('input.invalid', message, { field: 'rightsUrl', details: { length: input.rightsUrl.length } });
  }
}

type Sized = { svg: string; bodyPt: number };

function themeOf(opts: SignOptions): Theme {
  return opts.largePrint ? LARGE_THEME : NORMAL_THEME;
}

function variant(opts: SignOptions): string {
  return `${opts.paper}${opts.largePrint ? ' large print' : ''}`;
}

/**
 * The largest body size from the preferred one down to the floor at which one page holds it all;
 * when none does, how far the text runs past the page at the floor (mm).
 */
function fitOnePage(input: SignInput, opts: SignOptions): Sized | { overflow: number } {
  const sizes = opts.largePrint ? LARGE_PT : NORMAL_PT;
  let overflow = 0;
  for (let pt = sizes.preferred; pt >= sizes.floor - 1e-9; pt -= STEP_PT) {
    const fitted = layoutSign(input, opts.paper, themeOf(opts), pt * MM_PER_PT);
    if (fitted.overflow <= 0) return { svg: fitted.svg, bodyPt: pt };
    overflow = fitted.overflow;
  }
  return { overflow };
}

function layout(input: SignInput, opts: SignOptions): Sized {
  validate(input, opts.paper);
  const fitted = fitOnePage(input, opts);
  if ('svg' in fitted) return fitted;
  const floor = (opts.largePrint ? LARGE_PT : NORMAL_PT).floor;
  const advice = opts.paper === 'A4' ? 'print it on A3 (--paper A3) or shorten the text' : 'shorten the text';
  throw new CamwardenError(
    'input.invalid',
    `notice ${input.id} is too long for ${variant(opts)}: even at ${floor} pt it runs ` +
      `${Math.ceil(fitted.overflow)} mm past the page; ${advice}`,
    { field: 'paper', details: { paper: opts.paper, largePrint: opts.largePrint, floorPt: floor } },
  );
}

/**
 * The fewest pages; among those, the fewest sections run over two sheets (a reader keeps one
 * language on one sheet); among those, the largest type. Multi-page already costs the reader a
 * turn, so the type stays as big as that page count allows.
 */
function paginate(input: SignInput, opts: SignOptions): string[] {
  const sizes = opts.largePrint ? LARGE_PT : NORMAL_PT;
  // Large print reads one script at a time: Measures Art. 5's elderly and low-vision readers
  // should not have to pick their language out of alternating lines.
  const byLanguage = opts.largePrint && input.content.text.en !== undefined;
  const at = (pt: number): Pagination => layoutPages(input, opts.paper, themeOf(opts), pt * MM_PER_PT, byLanguage);
  const floor = at(sizes.floor);
  if ('tooLong' in floor) {
    throw new CamwardenError(
      'input.invalid',
      `notice ${input.id}: ${floor.tooLong} is too long for one ${variant(opts)} page even at ${sizes.floor} pt; shorten it`,
      { field: floor.tooLong, details: { paper: opts.paper, largePrint: opts.largePrint, floorPt: sizes.floor } },
    );
  }
  let best = floor;
  for (let pt = sizes.floor + STEP_PT; pt <= sizes.preferred + 1e-9; pt += STEP_PT) {
    const laid = at(pt);
    if ('tooLong' in laid) continue;
    const worse = laid.pages.length - best.pages.length || laid.brokenSections - best.brokenSections;
    if (worse <= 0) best = laid; // ties go to the larger type
  }
  return best.pages;
}

/**
 * The sign as standalone SVG in millimetres (print it at 100 %). Throws `input.invalid` when
 * the text does not fit the paper at a legible size, `notice.incomplete` when content is missing.
 */
export async function renderSignSvg(input: SignInput, opts: SignOptions): Promise<string> {
  return layout(input, opts).svg;
}

/**
 * The sign as one SVG page per sheet: one page, identical to renderSignSvg's, whenever that fits;
 * otherwise as many pages of the same paper as it takes at no less than the legibility floor.
 * Throws `input.invalid` naming the field (`text.en.method`) when one field fills more than a page.
 */
export async function renderSignPages(input: SignInput, opts: SignOptions): Promise<string[]> {
  validate(input, opts.paper);
  const fitted = fitOnePage(input, opts);
  return 'svg' in fitted ? [fitted.svg] : paginate(input, opts);
}

/**
 * librsvg converts millimetres at the requested density and sharp then scales by density/72 once
 * more (a 150 dpi A4 came out 2584 px wide), so the rasteriser gets the page in points, which
 * sharp reads as 1/72 inch. The SVG file itself keeps millimetres so it prints at true size.
 */
function forRaster(svg: string, paper: PaperSize): string {
  const { width, height } = PAPERS[paper];
  const pt = (mm: number): string => (Math.round((mm / MM_PER_PT) * 100) / 100).toString();
  return svg.replace(`width="${width}mm" height="${height}mm"`, `width="${pt(width)}" height="${pt(height)}"`);
}

function checkDpi(dpi: number): void {
  if (!Number.isFinite(dpi) || dpi < 72 || dpi > 600) {
    throw new CamwardenError('input.invalid', `dpi must be between 72 and 600, got ${dpi}`, { field: 'dpi' });
  }
}

async function rasterise(svg: string, paper: PaperSize, dpi: number): Promise<Buffer> {
  const page = forRaster(svg, paper);
  const sharp = await loadSharp();
  return sharp(Buffer.from(page), { density: dpi }).flatten({ background: '#ffffff' }).png().withDensity(dpi).toBuffer();
}

/** The sign rasterised at `dpi` (default 150), with the DPI recorded so it prints at true size. */
export async function renderSignPng(input: SignInput, opts: SignOptions & { dpi?: number }): Promise<Buffer> {
  const dpi = opts.dpi ?? 150;
  checkDpi(dpi);
  return rasterise(await renderSignSvg(input, opts), opts.paper, dpi);
}

/** One page of renderSignPages rasterised at `dpi` (default 150). */
export function svgToPng(svg: string, paper: PaperSize, dpi = 150): Promise<Buffer> {
  checkDpi(dpi);
  return rasterise(svg, paper, dpi);
}

/** renderSignPages rasterised, one PNG per sheet, like renderSignPng. */
export async function renderSignPngPages(input: SignInput, opts: SignOptions & { dpi?: number }): Promise<Buffer[]> {
  const dpi = opts.dpi ?? 150;
  checkDpi(dpi);
  const pages = await renderSignPages(input, opts);
  return Promise.all(pages.map((svg) => rasterise(svg, opts.paper, dpi)));
}

const TEXT_HEADINGS = {
  zh: { rightsPage: '了解并行使您的权利，请访问', colon: '：', stop: '。' },
  en: { rightsPage: 'Read about and exercise your rights at', colon: ': ', stop: '.' },
} as const;

function section(input: SignInput, lang: 'zh' | 'en', text: NoticeText): string[] {
  const h = TEXT_HEADINGS[lang];
  const item = (label: { zh: string; en: string }, value: string): string => `${label[lang]}${h.colon}${value}`;
  const out = [text.title];
  if (input.content.terms.faceRecognition) {
    out.push(FACE_LABELS.heading[lang] + h.stop);
    for (const f of FACE_LABELS.fields) out.push(item(f, text[f.field] ?? ''));
  }
  for (const f of FIELD_LABELS) out.push(item(f, text[f.field] ?? ''));
  out.push(`${h.rightsPage} ${input.rightsUrl}`);
  for (const { label, value } of footerItems(input).flat()) out.push(value === undefined ? label[lang] : item(label, value));
  return out;
}

/**
 * The sign as plain text for screen readers and audio announcements (Measures Art. 5): each
 * language as one block in the sign's reading order, so a speech engine switches voice once,
 * and the rights URL written out because a listener cannot scan a QR code.
 */
export function renderSignText(input: SignInput): string {
  checkNoticeContent(input.content);
  const { zh, en } = input.content.text;
  const blocks = [section(input, 'zh', zh)];
  if (en !== undefined) blocks.push(section(input, 'en', en));
  return blocks.map((lines) => lines.join('\n')).join('\n\n') + '\n';
}
