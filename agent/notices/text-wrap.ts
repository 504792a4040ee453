/**
 * Line breaking for the printed sign. We have no font metrics at layout time (sharp rasterises
 * later, through librsvg and Pango), so widths are estimates that err on the wide side: a line
 * that is estimated too wide merely wraps early, one estimated too narrow would overflow the
 * paper. Calibrated against Noto Sans CJK SC, whose Latin glyphs average about 0.48 em.
 */

const CJK_RANGES: readonly [number, number][] = [
  [0x1100, 0x11ff], // Hangul Jamo
  [0x2e80, 0x303f], // CJK radicals, punctuation, ideographic space
  [0x3040, 0x9fff], // kana, CJK symbols, unified ideographs
  [0xa960, 0xa97f],
  [0xac00, 0xd7af], // Hangul syllables
  [0xf900, 0xfaff], // compatibility ideographs
  [0xfe30, 0xfe4f], // CJK compatibility forms (vertical punctuation)
  [0xff00, 0xffef], // full-width forms: ，：（）etc.
  [0x20000, 0x3ffff], // supplementary ideographs
];

const NARROW = new Set([...'iljtfrI.,:;\'"|!()[]{}`']);
const WIDE = new Set([...'mwMW@%']);

// Chinese line-breaking rule (禁则): these never start a line.
const NO_LINE_START = new Set([...'，。、；：！？）」』】》〉”’,.;:!?)]}%']);

/** Bold glyphs of Noto Sans CJK SC are about 6 % wider in Latin; ideographs do not change. */
const BOLD_FACTOR = 1.06;

export function isCjk(cp: number): boolean {
  return CJK_RANGES.some(([lo, hi]) => cp >= lo && cp <= hi);
}

function charEm(ch: string): number {
  const cp = ch.codePointAt(0) ?? 0;
  if (isCjk(cp) || cp >= 0x1f000) return 1; // ideographs, full-width forms, emoji
  if (ch === ' ') return 0.3;
  if (NARROW.has(ch)) return 0.35;
  if (WIDE.has(ch)) return 0.9;
  if (ch >= 'A' && ch <= 'Z') return 0.7;
  return 0.55;
}

/** Estimated advance of `text` at font size `size` (same unit as the result). */
export function textWidth(text: string, size: number, bold = false): number {
  let em = 0;
  for (const ch of text) em += charEm(ch) * (bold && !isCjk(ch.codePointAt(0) ?? 0) ? BOLD_FACTOR : 1);
  return em * size;
}

interface Token {
  text: string;
  /** A space separated it from the previous token: printed unless the line breaks there. */
  spaced: boolean;
  cjk: boolean;
}

/** Each ideograph is its own token (Chinese may break anywhere); Latin runs break only at spaces. */
function tokenize(paragraph: string): Token[] {
  const tokens: Token[] = [];
  let spaced = false;
  let word = '';
  const flush = (): void => {
    if (word !== '') tokens.push({ text: word, spaced, cjk: false });
    if (word !== '') spaced = false;
    word = '';
  };
  for (const ch of paragraph) {
    if (/\s/u.test(ch)) {
      flush();
      spaced = tokens.length > 0;
    } else if (isCjk(ch.codePointAt(0) ?? 0)) {
      flush();
      tokens.push({ text: ch, spaced, cjk: true });
      spaced = false;
    } else {
      word += ch;
    }
  }
  flush();
  return tokens;
}

// Breaking after these keeps a long URL or e-mail address readable when it must be split.
const SOFT_BREAK_AFTER = new Set([...'/-._?&=@#']);

/** Splits a word wider than the line into pieces that fit, preferring URL-friendly break points. */
function hardBreak(word: string, width: number, size: number, bold: boolean): string[] {
  const chars = [...word];
  const pieces: string[] = [];
  while (chars.length > 0) {
    let n = 0;
    let w = 0;
    while (n < chars.length && w + textWidth(chars[n] as string, size, bold) <= width) {
      w += textWidth(chars[n] as string, size, bold);
      n++;
    }
    if (n === 0) n = 1; // a single glyph wider than the column: nothing better exists
    if (n < chars.length) {
      // A slash first: a line ending in "-" reads as a hyphenated word, and whoever types the
      // URL from the sign would drop the hyphen.
      const from = Math.ceil(n * 0.5);
      const at = (ok: (ch: string) => boolean): number => {
        for (let i = n - 1; i >= from; i--) if (ok(chars[i] as string)) return i + 1;
        return 0;
      };
      n = at((ch) => ch === '/') || at((ch) => SOFT_BREAK_AFTER.has(ch)) || n;
    }
    pieces.push(chars.splice(0, n).join(''));
  }
  return pieces;
}

/**
 * Greedy wrap to `width`. Explicit newlines are kept. Returns at least one line per paragraph so
 * an empty field still occupies its row. `firstIndent` narrows the first line, for a run-in label
 * set in a wider face than the estimate assumes.
 */
export function wrapText(text: string, width: number, size: number, bold = false, firstIndent = 0): string[] {
  const out: string[] = [];
  for (const paragraph of text.replace(/\r\n?/g, '\n').split('\n')) {
    const lines: Token[][] = [[]];
    const spaceW = textWidth(' ', size, bold);
    const lineWidth = (line: Token[]): number =>
      line.reduce((w, t, i) => w + (i > 0 && t.spaced ? spaceW : 0) + textWidth(t.text, size, bold), 0);
    const queue = tokenize(paragraph);
    while (queue.length > 0) {
      const token = queue.shift() as Token;
      const line = lines[lines.length - 1] as Token[];
      const room = out.length === 0 && lines.length === 1 ? width - firstIndent : width;
      if (lineWidth([...line, token]) <= room) {
        line.push(token);
        continue;
      }
      if (textWidth(token.text, size, bold) > room) {
        const [first, ...rest] = hardBreak(token.text, room, size, bold);
        queue.unshift(
          { text: first as string, spaced: token.spaced, cjk: false },
          ...rest.map((text) => ({ text, spaced: false, cjk: false })),
        );
        if (line.length > 0) lines.push([]);
        continue;
      }
      const next: Token[] = [token];
      const last = line[line.length - 1];
      if (NO_LINE_START.has([...token.text][0] ?? '') && last?.cjk && line.length > 1) {
        next.unshift(line.pop() as Token);
      }
      lines.push(next);
    }
    for (const line of lines) out.push(line.map((t, i) => (i > 0 && t.spaced ? ' ' : '') + t.text).join(''));
  }
  return out;
}
