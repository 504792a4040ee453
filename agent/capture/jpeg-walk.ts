import { CamwardenError } from '../errors.js';

/**
 * Validates a JPEG by walking its markers, never decoding pixels: it runs on every frame before
 * anything is stored, so a corrupt or hostile camera costs one pass over the bytes and no
 * allocation per byte. The entropy-coded data is skipped with Buffer#indexOf (memchr).
 */
export type JpegFault =
  | 'empty'
  | 'not-jpeg'
  | 'truncated'
  | 'bad-segment-length'
  | 'no-frame'
  | 'no-scan'
  | 'bad-dimensions'
  | 'too-many-bytes'
  | 'too-large-dimensions';

export interface JpegLimits {
  maxBytes: number;
  maxWidth: number;
  maxHeight: number;
}

export interface JpegSegment {
  marker: number;
  /** Offset of the segment's 0xFF byte. */
  offset: number;
  /** Whole segment: marker, length field and payload (for SOS, its header without the scan data). */
  length: number;
}

export interface JpegHeaders {
  segments: JpegSegment[];
  /** The standard APP1 XMP segment (the first, if a file carries several). */
  xmp?: { offset: number; length: number };
  exif: boolean;
}

export interface JpegInfo extends JpegHeaders {
  width: number;
  height: number;
  sofMarker: number;
  trailingBytes: number;
}

/** Payload prefix of the standard XMP packet's APP1 segment (XMP spec part 3, 1.1.3). */
export const XMP_APP1_HEADER = Buffer.from('http://ns.adobe.com/xap/1.0/\0', 'latin1');
const EXIF_HEADER = Buffer.from('Exif\0\0', 'latin1');

const SOI = 0xd8;
const EOI = 0xd9;
const SOS = 0xda;
const APP1 = 0xe1;
const UNLIMITED: JpegLimits = { maxBytes: Infinity, maxWidth: 0xffff, maxHeight: 0xffff };

export function walkJpeg(bytes: Buffer, limits: JpegLimits): JpegInfo {
  return walk(bytes, limits, false) as JpegInfo;
}

/**
 * The segments up to and including the first SOS, without validating the scan data or any
 * limit: enough to find and splice metadata segments, which all precede the first scan.
 */
export function walkJpegHeaders(bytes: Buffer): JpegHeaders {
  return walk(bytes, UNLIMITED, true);
}

function fail(reason: JpegFault, message: string): never {
  const tooLarge = reason === 'too-many-bytes' || reason === 'too-large-dimensions';
  throw new CamwardenError(tooLarge ? 'jpeg.too-large' : 'jpeg.invalid', message, { details: { reason } });
}

const isSof = (m: number): boolean => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
const startsWith = (bytes: Buffer, at: number, end: number, prefix: Buffer): boolean =>
  end - at >= prefix.length && prefix.compare(bytes, at, at + prefix.length) === 0;

function walk(bytes: Buffer, limits: JpegLimits, headersOnly: boolean): JpegHeaders | JpegInfo {
  const size = bytes.length;
  if (size === 0) fail('empty', 'JPEG is empty');
  if (size > limits.maxBytes) fail('too-many-bytes', `JPEG has ${size} bytes, more than ${limits.maxBytes}`);
  if (size < 2 || bytes[0] !== 0xff || bytes[1] !== SOI) {
    fail(size < 2 && bytes[0] === 0xff ? 'truncated' : 'not-jpeg', 'not a JPEG (no SOI marker)');
  }
  const segments: JpegSegment[] = [{ marker: SOI, offset: 0, length: 2 }];
  let xmp: { offset: number; length: number } | undefined;
  let exif = false;
  let width = 0;
  let height = 0;
  let sofMarker = 0;
  let scanned = false;
  let pos = 2;
  for (;;) {
    if (pos >= size) fail('truncated', 'JPEG ends before its EOI marker');
    if (bytes[pos] !== 0xff) {
      // Only a wrong length on the previous segment lands us off a marker.
      fail(pos === 2 ? 'not-jpeg' : 'bad-segment-length', `no marker at offset ${pos}`);
    }
    while (pos + 1 < size && bytes[pos + 1] === 0xff) pos++; // fill bytes may precede a marker
    if (pos + 1 >= size) fail('truncated', 'JPEG ends inside a marker');
    const marker = bytes[pos + 1]!;
    if (marker === EOI) {
      segments.push({ marker, offset: pos, length: 2 });
      if (sofMarker === 0) fail('no-frame', 'JPEG has no frame header (SOFn)');
      if (!scanned) fail('no-scan', 'JPEG has no scan (SOS)');
      return { width, height, sofMarker, segments, xmp, exif, trailingBytes: size - pos - 2 };
    }
    if (marker === 0x00 || marker === SOI) fail(pos === 2 ? 'not-jpeg' : 'bad-segment-length', `invalid marker at offset ${pos}`);
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      // TEM and stray RSTn stand alone, without a length.
      segments.push({ marker, offset: pos, length: 2 });
      pos += 2;
      continue;
    }
    if (pos + 4 > size) fail('truncated', 'JPEG ends inside a segment header');
    const length = bytes.readUInt16BE(pos + 2);
    const end = pos + 2 + length;
    if (length < 2 || end > size) fail('bad-segment-length', `segment 0xFF${marker.toString(16).toUpperCase()} at offset ${pos} runs past the end`);
    segments.push({ marker, offset: pos, length: length + 2 });
    if (marker === APP1) {
      if (xmp === undefined && startsWith(bytes, pos + 4, end, XMP_APP1_HEADER)) xmp = { offset: pos, length: length + 2 };
      else if (startsWith(bytes, pos + 4, end, EXIF_HEADER)) exif = true;
    } else if (isSof(marker)) {
      if (length < 8) fail('bad-segment-length', `frame header at offset ${pos} is too short`);
      const h = bytes.readUInt16BE(pos + 5);
      const w = bytes.readUInt16BE(pos + 7);
      // A zero height (defined later by DNL) is legal but no camera uses it; refuse rather than guess.
      if (w === 0 || h === 0) fail('bad-dimensions', `frame declares ${w}x${h}`);
      if (w > limits.maxWidth || h > limits.maxHeight) {
        fail('too-large-dimensions', `frame declares ${w}x${h}, more than ${limits.maxWidth}x${limits.maxHeight}`);
      }
      if (sofMarker === 0) {
        sofMarker = marker;
        width = w;
        height = h;
      }
    } else if (marker === SOS) {
      if (sofMarker === 0) fail('no-frame', 'scan (SOS) before any frame header (SOFn)');
      if (headersOnly) return { segments, xmp, exif };
      scanned = true;
      pos = skipEntropyData(bytes, end);
      continue;
    }
    pos = end;
  }
}

/** Offset of the first real marker after a scan: FF00 is a stuffed byte, FFD0-FFD7 restart markers. */
function skipEntropyData(bytes: Buffer, from: number): number {
  let i = from;
  for (;;) {
    i = bytes.indexOf(0xff, i);
    if (i < 0 || i + 1 >= bytes.length) fail('truncated', 'JPEG ends inside scan data');
    const next = bytes[i + 1]!;
    if (next === 0x00 || (next >= 0xd0 && next <= 0xd7)) i += 2;
    else if (next === 0xff) i += 1;
    else return i;
  }
}
