import { create as createQr } from 'qrcode';
import type { Theme } from './sign-layout.js';
import { textWidth, wrapText } from './text-wrap.js';

/** SVG building blocks for the printed sign. All coordinates are millimetres on the paper. */

export const FONT_FAMILY = "'Noto Sans CJK SC', 'Noto Sans', sans-serif";

// XML 1.0 forbids these code points even when escaped; one in a notice field would make the
// whole sign unrenderable, so they are dropped rather than passed through.
const XML_INVALID = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/gu;

export function escapeXml(text: string): string {
  return text
    .replace(XML_INVALID, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** Two decimals are 10 µm on paper: finer than any printer, and keeps the SVG small. */
export function n(value: number): string {
  return String(Math.round(value * 100) / 100);
}

export interface TextStyle {
  size: number;
  fill: string;
  bold?: boolean;
  /** Marks what the text is, so tests and tooling can find fields without parsing layout. */
  role: string;
  field?: string;
  lang?: 'zh' | 'en';
}

/** `boldLead` is a run-in label at the start of the line, set bold within the same text run. */
export function textLine(x: number, baseline: number, text: string, style: TextStyle, boldLead = ''): string {
  const data =
    `data-role="${style.role}"` +
    (style.field === undefined ? '' : ` data-field="${style.field}"`) +
    (style.lang === undefined ? '' : ` data-lang="${style.lang}"`);
  const weight = style.bold === true ? ' font-weight="bold"' : '';
  const lang = style.lang === undefined ? '' : ` xml:lang="${style.lang === 'zh' ? 'zh-CN' : 'en'}"`;
  const body =
    boldLead !== '' && text.startsWith(boldLead)
      ? `<tspan font-weight="bold">${escapeXml(boldLead)}</tspan>${escapeXml(text.slice(boldLead.length))}`
      : escapeXml(text);
  return `<text ${data}${lang} x="${n(x)}" y="${n(baseline)}" font-size="${n(style.size)}"${weight} fill="${style.fill}">${body}</text>`;
}

export function rect(x: number, y: number, w: number, h: number, attrs: string): string {
  return `<rect x="${n(x)}" y="${n(y)}" width="${n(w)}" height="${n(h)}" ${attrs}/>`;
}

/**
 * A wall-mounted CCTV camera, drawn as paths so it prints the same everywhere and does not
 * depend on an icon font being installed. Drawn in a 24x24 box, scaled to `side` mm.
 */
export function cameraIcon(x: number, y: number, side: number, color: string): string {
  const s = side / 24;
  return (
    `<g transform="translate(${n(x)} ${n(y)}) scale(${Math.round(s * 1000) / 1000})" fill="${color}" data-role="icon">` +
    // wall plate and arm
    '<path d="M20.5 8h2.5v10h-2.5z"/>' +
    '<path d="M14.2 12.6l1.6-1.6 5 4v1.9h-1.6z"/>' +
    // body, tilted down towards the viewer's area, with the lens hood at the front
    '<g transform="rotate(18 10 8)">' +
    '<path d="M4 4.2h12.5a1.5 1.5 0 0 1 1.5 1.5v5.1a1.5 1.5 0 0 1-1.5 1.5H4z"/>' +
    '<path d="M0.6 3h3.9v10h-3.9z"/>' +
    '<circle cx="7.2" cy="8.2" r="1.3" fill-opacity="0.35"/>' +
    '</g>' +
    '</g>'
  );
}

/**
 * The QR code as one filled path of horizontal runs, on a white square that includes the quiet
 * zone (4 modules, ISO/IEC 18004) so a phone finds it even on a busy wall.
 * Error correction M: survives some dirt and glare while keeping modules large enough to scan
 * from a step away.
 */
export function qrCode(url: string, x: number, y: number, side: number, dark: string): string {
  const qr = createQr(url, { errorCorrectionLevel: 'M' });
  const size = qr.modules.size;
  const quiet = 4;
  const cell = side / (size + quiet * 2);
  let d = '';
  for (let row = 0; row < size; row++) {
    let col = 0;
    while (col < size) {
      if (qr.modules.data[row * size + col] !== 1) {
        col++;
        continue;
      }
      const start = col;
      while (col < size && qr.modules.data[row * size + col] === 1) col++;
      d += `M${start + quiet} ${row + quiet}h${col - start}v1h-${col - start}z`;
    }
  }
  return (
    `<g data-role="qr" data-url="${escapeXml(url)}">` +
    rect(x, y, side, side, 'fill="#ffffff"') +
    `<path transform="translate(${n(x)} ${n(y)}) scale(${cell})" d="${d}" fill="${dark}" shape-rendering="crispEdges"/>` +
    '</g>'
  );
}

export const LINE = 1.28; // line box as a multiple of the font size
const ASCENT = 0.88; // ideographic em-box top above the baseline, Noto Sans CJK

/** Collects the SVG of one page, or of one block of it, at a given body size. */
export class Page {
  readonly parts: string[] = [];
  constructor(readonly body: number, readonly theme: Theme) {}

  /** Writes wrapped lines from `top`; returns the height used. */
  lines(lines: string[], x: number, top: number, style: TextStyle, lead = ''): number {
    lines.forEach((line, i) => {
      const base = top + i * style.size * LINE + ((LINE - 1) / 2 + ASCENT) * style.size;
      this.parts.push(textLine(x, base, line, style, i === 0 ? lead.trimEnd() : ''));
    });
    return lines.length * style.size * LINE;
  }

  /** `lead` is a run-in bold label ("必要性：") that saves the label its own line. */
  para(text: string, x: number, top: number, width: number, style: TextStyle, lead = ''): number {
    const extra = lead === '' || style.bold === true ? 0 : textWidth(lead, style.size, true) - textWidth(lead, style.size);
    return this.lines(wrapText(lead + text, width, style.size, style.bold, extra), x, top, style, lead);
  }
}
