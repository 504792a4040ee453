import { createHash } from 'node:crypto';
import { describe, it, expect, beforeAll } from 'vitest';
import { walkJpeg, walkJpegHeaders, XMP_APP1_HEADER, type JpegFault } from '../../agent/capture/jpeg-walk.js';
import { CamwardenError } from '../../agent/errors.js';
import { makeCameraJpeg, makeJpeg, makePng, UHD_4K } from '../fixtures/jpegs.js';

const LIMITS = { maxBytes: 20_000_000, maxWidth: 7680, maxHeight: 4320 };

function faultOf(bytes: Buffer, limits = LIMITS): { code: string; reason: JpegFault } {
  try {
    walkJpeg(bytes, limits);
  } catch (error) {
    expect(error).toBeInstanceOf(CamwardenError);
    const e = error as CamwardenError;
    return { code: e.code, reason: (e.details as { reason: JpegFault }).reason };
  }
  throw new Error('walkJpeg accepted the bytes');
}

/** Offset of the first segment with this marker. */
function offsetOf(bytes: Buffer, marker: number): number {
  const segment = walkJpeg(bytes, LIMITS).segments.find((s) => s.marker === marker);
  if (segment === undefined) throw new Error(`no 0x${marker.toString(16)} segment`);
  return segment.offset;
}

describe('walkJpeg', () => {
  let baseline: Buffer;
  let progressive: Buffer;
  beforeAll(async () => {
    baseline = await makeJpeg({ width: 1280, height: 720, seed: 3 });
    progressive = await makeJpeg({ width: 1280, height: 720, seed: 3, progressive: true });
  });

  it('reads the frame size and segment layout of a baseline JPEG', () => {
    const info = walkJpeg(baseline, LIMITS);
    expect(info).toMatchObject({ width: 1280, height: 720, sofMarker: 0xc0, exif: false, trailingBytes: 0 });
    expect(info.xmp).toBeUndefined();
    expect(info.segments[0]).toEqual({ marker: 0xd8, offset: 0, length: 2 });
    expect(info.segments.at(-1)).toEqual({ marker: 0xd9, offset: baseline.length - 2, length: 2 });
    expect(info.segments.filter((s) => s.marker === 0xda)).toHaveLength(1);
    for (const s of info.segments) expect(baseline[s.offset]).toBe(0xff);
  });

  it('walks every scan of a progressive JPEG', () => {
    const info = walkJpeg(progressive, LIMITS);
    expect(info).toMatchObject({ width: 1280, height: 720, sofMarker: 0xc2, trailingBytes: 0 });
    expect(info.segments.filter((s) => s.marker === 0xda).length).toBeGreaterThan(5);
  });

  it('skips stuffed bytes and restart markers inside scan data', () => {
    const sos = walkJpeg(baseline, LIMITS).segments.find((s) => s.marker === 0xda)!;
    const scanStart = sos.offset + sos.length;
    expect(baseline.indexOf(Buffer.from([0xff, 0x00]), scanStart)).toBeGreaterThan(scanStart);
    // Restart markers as an encoder with a restart interval writes them, at byte boundaries.
    const parts: Buffer[] = [baseline.subarray(0, scanStart)];
    let from = scanStart;
    for (let n = 0; n < 8; n++) {
      let at = from + 1000;
      while (baseline[at - 1] === 0xff) at++;
      parts.push(baseline.subarray(from, at), Buffer.from([0xff, 0xd0 + n]));
      from = at;
    }
    parts.push(baseline.subarray(from));
    const withRst = Buffer.concat(parts);
    const info = walkJpeg(withRst, LIMITS);
    expect(info.segments.map((s) => s.marker)).toEqual(walkJpeg(baseline, LIMITS).segments.map((s) => s.marker));
    expect(info.segments.at(-1)).toEqual({ marker: 0xd9, offset: withRst.length - 2, length: 2 });
  });

  it('accepts bytes after EOI and reports how many', () => {
    const info = walkJpeg(Buffer.concat([baseline, Buffer.from('trailer')]), LIMITS);
    expect(info.trailingBytes).toBe(7);
  });

  it('finds the Exif and the standard XMP segments of a camera JPEG', async () => {
    const camera = await makeCameraJpeg();
    const info = walkJpeg(camera, LIMITS);
    expect(info.exif).toBe(true);
    expect(info.xmp).toBeDefined();
    const { offset, length } = info.xmp!;
    expect(camera.subarray(offset, offset + 2)).toEqual(Buffer.from([0xff, 0xe1]));
    expect(camera.readUInt16BE(offset + 2)).toBe(length - 2);
    expect(camera.subarray(offset + 4, offset + 4 + XMP_APP1_HEADER.length)).toEqual(XMP_APP1_HEADER);
    expect(walkJpegHeaders(camera).xmp).toEqual(info.xmp);
  });

  it('rejects zero bytes as empty', () => {
    expect(faultOf(Buffer.alloc(0))).toEqual({ code: 'jpeg.invalid', reason: 'empty' });
  });

  it('rejects PNG bytes as not a JPEG', async () => {
    expect(faultOf(await makePng())).toEqual({ code: 'jpeg.invalid', reason: 'not-jpeg' });
  });

  it('rejects random bytes, with or without a JPEG signature in front', () => {
    const random = createHash('sha512').update('seed').digest();
    const noise = Buffer.concat(Array.from({ length: 64 }, (_, i) => createHash('sha512').update(random).update(String(i)).digest()));
    noise[0] = 0x17;
    expect(faultOf(noise)).toEqual({ code: 'jpeg.invalid', reason: 'not-jpeg' });
    noise[0] = 0xff;
    noise[1] = 0xd8;
    noise[2] = 0x42; // not a marker where the first segment should start
    expect(faultOf(noise)).toEqual({ code: 'jpeg.invalid', reason: 'not-jpeg' });
  });

  it('rejects a JPEG cut off inside its scan data as truncated', () => {
    expect(faultOf(baseline.subarray(0, Math.floor(baseline.length / 2)))).toEqual({ code: 'jpeg.invalid', reason: 'truncated' });
    expect(faultOf(baseline.subarray(0, baseline.length - 2))).toEqual({ code: 'jpeg.invalid', reason: 'truncated' });
  });

  it('rejects a segment whose length runs past the end', async () => {
    const small = await makeJpeg({ width: 16, height: 16 });
    const patched = Buffer.from(small);
    const dqt = offsetOf(small, 0xdb);
    patched.writeUInt16BE(small.length, dqt + 2);
    expect(faultOf(patched)).toEqual({ code: 'jpeg.invalid', reason: 'bad-segment-length' });
    patched.writeUInt16BE(1, dqt + 2);
    expect(faultOf(patched)).toEqual({ code: 'jpeg.invalid', reason: 'bad-segment-length' });
  });

  it('rejects a frame header declaring 60000x60000 as too large, without decoding', () => {
    const patched = Buffer.from(baseline);
    const sof = offsetOf(baseline, 0xc0);
    patched.writeUInt16BE(60000, sof + 5);
    patched.writeUInt16BE(60000, sof + 7);
    expect(faultOf(patched)).toEqual({ code: 'jpeg.too-large', reason: 'too-large-dimensions' });
  });

  it('rejects a frame header declaring zero width', () => {
    const patched = Buffer.from(baseline);
    patched.writeUInt16BE(0, offsetOf(baseline, 0xc0) + 7);
    expect(faultOf(patched)).toEqual({ code: 'jpeg.invalid', reason: 'bad-dimensions' });
  });

  it('rejects more bytes than the limit before looking at them', () => {
    expect(faultOf(baseline, { ...LIMITS, maxBytes: baseline.length - 1 })).toEqual({ code: 'jpeg.too-large', reason: 'too-many-bytes' });
  });

  it('rejects a JPEG without a frame header or without a scan', () => {
    const info = walkJpeg(baseline, LIMITS);
    const sos = offsetOf(baseline, 0xda);
    const sof = info.segments.find((s) => s.marker === 0xc0)!;
    const eoi = Buffer.from([0xff, 0xd9]);
    expect(faultOf(Buffer.concat([baseline.subarray(0, sos), eoi]))).toEqual({ code: 'jpeg.invalid', reason: 'no-scan' });
    const withoutSof = Buffer.concat([baseline.subarray(0, sof.offset), baseline.subarray(sof.offset + sof.length)]);
    expect(faultOf(withoutSof)).toEqual({ code: 'jpeg.invalid', reason: 'no-frame' });
  });

  it('walks a real 4K frame to its dimensions and the end of its scan', async () => {
    const frame = await makeJpeg({ ...UHD_4K, seed: 11 });
    const info = walkJpeg(frame, LIMITS);
    expect(info).toMatchObject({ width: UHD_4K.width, height: UHD_4K.height, trailingBytes: 0 });
    expect(info.segments.at(-1)).toMatchObject({ marker: 0xd9, offset: frame.length - 2 });
  });
});
