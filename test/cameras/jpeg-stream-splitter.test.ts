import { execFileSync } from 'node:child_process';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { createJpegStreamSplitter } from '../../agent/cameras/jpeg-stream-splitter.js';

const jpeg = (width: number, height: number, r: number) =>
  sharp({ create: { width, height, channels: 3, background: { r, g: 255 - r, b: 90 } } })
    .composite([{ input: Buffer.from(`<svg width="${width}" height="${height}"><circle cx="${width / 2}" cy="${height / 2}" r="${width / 3}" fill="#123"/></svg>`) }])
    .jpeg({ quality: 80 })
    .toBuffer();

/** The same JPEG with an APP1 "EXIF" segment holding a thumbnail, whose SOI/EOI must not split the frame. */
function withThumbnail(image: Buffer, thumb: Buffer): Buffer {
  const payload = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), thumb]);
  const app1 = Buffer.concat([Buffer.from([0xff, 0xe1, (payload.length + 2) >> 8, (payload.length + 2) & 0xff]), payload]);
  return Buffer.concat([image.subarray(0, 2), app1, image.subarray(2)]);
}

function splitAll(maxBytes: number, chunks: Buffer[]) {
  const s = createJpegStreamSplitter({ maxBytes });
  const frames = chunks.flatMap((c) => s.push(c));
  return { frames, stats: s.stats() };
}

const hex = (bs: Buffer[]) => bs.map((x) => x.toString('hex'));

function chunked(b: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size));
  return out;
}

describe('jpeg stream splitter', () => {
  let a: Buffer, b: Buffer, c: Buffer, big: Buffer;
  beforeAll(async () => {
    [a, b, c, big] = await Promise.all([jpeg(16, 16, 10), jpeg(24, 8, 120), jpeg(8, 8, 250), jpeg(400, 300, 60)]);
  });

  it('returns back-to-back frames whole, whichever byte the chunk boundary falls on', () => {
    const stream = Buffer.concat([a, b, c]);
    for (let cut = 0; cut <= stream.length; cut += 1) {
      const { frames, stats } = splitAll(1 << 20, [stream.subarray(0, cut), stream.subarray(cut)]);
      // Compared as hex: deep equality on Buffers is byte by byte and slow over thousands of cuts.
      expect(hex(frames), `cut at ${cut}`).toEqual(hex([a, b, c]));
      expect(stats).toEqual({ frames: 3, oversized: 0, invalid: 0, skippedBytes: 0 });
    }
  });

  it('returns the same frames when fed one byte at a time or in uneven chunks', () => {
    const stream = Buffer.concat([a, b, c, a]);
    expect(splitAll(1 << 20, chunked(stream, 1)).frames).toEqual([a, b, c, a]);
    expect(splitAll(1 << 20, chunked(stream, 7)).frames).toEqual([a, b, c, a]);
    expect(splitAll(1 << 20, chunked(stream, 4096)).frames).toEqual([a, b, c, a]);
  });

  it('skips garbage between frames, including stray FF, FFD9 and FF00 bytes', () => {
    const junk = Buffer.from([0x00, 0xff, 0xd9, 0x12, 0xff, 0x00, 0xff, 0xff, 0x42, 0xff]);
    const stream = Buffer.concat([junk, a, junk, junk, b, junk]);
    for (const size of [1, 3, 64, stream.length]) {
      const { frames, stats } = splitAll(1 << 20, chunked(stream, size));
      expect(frames).toEqual([a, b]);
      expect(stats.skippedBytes).toBe(junk.length * 4);
      expect(stats.invalid).toBe(0);
    }
  });

  it('drops a frame cut short in its scan data and keeps the frame after it', () => {
    const cutShort = a.subarray(0, a.length - 20);
    const { frames, stats } = splitAll(1 << 20, chunked(Buffer.concat([cutShort, b]), 5));
    expect(frames).toEqual([b]);
    expect(stats.invalid).toBe(1);
  });

  it('drops a frame larger than maxBytes, counts it and resynchronises at the next SOI', () => {
    const maxBytes = Math.max(a.length, b.length) + 100;
    expect(big.length).toBeGreaterThan(maxBytes * 3);
    for (const size of [1, 100, 65_536]) {
      const { frames, stats } = splitAll(maxBytes, chunked(Buffer.concat([a, big, b, big, big, c]), size));
      expect(frames).toEqual([a, b, c]);
      expect(stats).toMatchObject({ frames: 3, oversized: 3, invalid: 0 });
    }
  });

  it('keeps a frame whole when an EXIF thumbnail inside it has its own SOI and EOI', () => {
    const framed = withThumbnail(b, c);
    const { frames } = splitAll(1 << 20, chunked(Buffer.concat([framed, a]), 13));
    expect(frames).toEqual([framed, a]);
  });

  it('drops the frame in progress on reset (the stream ended mid-frame)', () => {
    const s = createJpegStreamSplitter({ maxBytes: 1 << 20 });
    expect(s.push(a.subarray(0, 100))).toEqual([]);
    s.reset();
    expect(s.push(Buffer.concat([a.subarray(100), b]))).toEqual([b]);
    expect(s.stats()).toMatchObject({ frames: 1, invalid: 1 });
  });

  it("splits ffmpeg's image2pipe MJPEG output into frames sharp decodes", async () => {
    const out = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=10', '-frames:v', '6', '-f', 'image2pipe', '-c:v', 'mjpeg', '-q:v', '3', '-'], { maxBuffer: 64 << 20 });
    const { frames, stats } = splitAll(1 << 20, chunked(out, 4093));
    expect(frames).toHaveLength(6);
    expect(Buffer.concat(frames)).toEqual(out);
    expect(stats.skippedBytes).toBe(0);
    for (const f of frames) expect(await sharp(f).metadata()).toMatchObject({ format: 'jpeg', width: 320, height: 180 });
  });
});
