import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { burnInMasks, maskCoverage, validateMasks, type MaskPolygon } from '../../agent/cameras/privacy-mask.js';
import { CamwardenError } from '../../agent/errors.js';
import { exiftool, makeCameraJpeg, makePng } from '../fixtures/jpegs.js';

/**
 * A frame with no dark pixel anywhere (every channel >= 100) but real texture, so "black after
 * burn-in" cannot happen by accident and the JPEG has the content of a scene, not flat colour.
 */
async function brightFrame(width: number, height: number, quality = 90): Promise<Buffer> {
  const pixels = Buffer.alloc(width * height * 3);
  let i = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const edge = (((x >> 5) + (y >> 5)) & 1) * 16;
      pixels[i++] = 170 + 60 * Math.sin(x / 23) * Math.cos(y / 31) + edge;
      pixels[i++] = 180 + 50 * Math.sin((x + y) / 40);
      pixels[i++] = 160 + 50 * Math.cos(x / 57 - y / 19) + edge;
    }
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality, mozjpeg: false }).toBuffer();
}

/** What one more JPEG generation alone costs: the tolerance for "unchanged". */
const reencode = (jpeg: Buffer): Promise<Buffer> => sharp(jpeg).jpeg({ quality: 90, mozjpeg: false }).toBuffer();

/**
 * "Black" after one JPEG generation (quality 90, 4:2:0): near the mask edge the pixels pick up ringing
 * from the bright blocks next door, more along slanted edges (measured up to 16 at 2-7 px inside a
 * triangle, at most 6 from 11 px in). The frame itself never goes below 100, so an unmasked pixel fails.
 */
const BLACK = 20;
const DEEP_BLACK = 8;
const DEEP = 12;

interface Raw {
  data: Buffer;
  width: number;
  height: number;
}

async function decode(jpeg: Buffer): Promise<Raw> {
  const { data, info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
  expect(info.channels).toBe(3);
  return { data, width: info.width, height: info.height };
}

const maxChannel = (img: Raw, x: number, y: number): number => {
  const o = (y * img.width + x) * 3;
  return Math.max(img.data[o]!, img.data[o + 1]!, img.data[o + 2]!);
};

/** Mean absolute difference per channel over the pixels `where` selects. */
function meanAbsDiff(a: Raw, b: Raw, where: (x: number, y: number) => boolean): { mean: number; count: number } {
  let sum = 0;
  let count = 0;
  for (let y = 0; y < a.height; y += 2) {
    for (let x = 0; x < a.width; x += 2) {
      if (!where(x, y)) continue;
      const o = (y * a.width + x) * 3;
      for (let c = 0; c < 3; c++) sum += Math.abs(a.data[o + c]! - b.data[o + c]!);
      count++;
    }
  }
  return { mean: sum / (count * 3), count };
}

function darkFraction(img: Raw): number {
  let dark = 0;
  for (let y = 0; y < img.height; y++) for (let x = 0; x < img.width; x++) if (maxChannel(img, x, y) < 60) dark++;
  return dark / (img.width * img.height);
}

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CamwardenError);
    expect((error as CamwardenError).code).toBe('input.invalid');
    return (error as CamwardenError).field;
  }
  throw new Error('expected validateMasks to throw');
}

const square = (name = 'm'): MaskPolygon => ({ name, points: [[0.1, 0.1], [0.3, 0.1], [0.3, 0.3], [0.1, 0.3]] });

describe('validateMasks', () => {
  it.each<[string, unknown, string]>([
    ['a non-array', { name: 'x' }, 'masks'],
    ['a mask that is not an object', [square(), 'window'], 'masks[1]'],
    ['a missing name', [square(), { points: square().points }], 'masks[1].name'],
    ['a blank name', [{ name: '  ', points: square().points }], 'masks[0].name'],
    ['a duplicate name', [square('door'), { ...square('door'), points: [[0.5, 0.5], [0.6, 0.5], [0.6, 0.6]] }], 'masks[1].name'],
    ['an unknown key', [{ ...square(), colour: 'black' }], 'masks[0].colour'],
    ['points that are not an array', [{ name: 'm', points: '0,0 1,0 1,1' }], 'masks[0].points'],
    ['fewer than 3 points', [square(), { name: 'n', points: [[0, 0], [1, 1]] }], 'masks[1].points'],
    ['a point that is not a pair', [{ name: 'm', points: [[0, 0], [0.5], [1, 1]] }], 'masks[0].points[1]'],
    ['an x outside 0..1', [{ name: 'm', points: [[0, 0], [1.2, 0], [1, 1]] }], 'masks[0].points[1]'],
    ['a negative y', [{ name: 'm', points: [[0, 0], [1, 0], [1, -0.01]] }], 'masks[0].points[2]'],
    ['a coordinate given as a string', [{ name: 'm', points: [['0.5', 0], [1, 0], [1, 1]] }], 'masks[0].points[0]'],
    ['a NaN coordinate', [{ name: 'm', points: [[0, 0], [1, Number.NaN], [1, 1]] }], 'masks[0].points[1]'],
    ['an infinite coordinate', [{ name: 'm', points: [[0, 0], [1, 0], [Number.POSITIVE_INFINITY, 1]] }], 'masks[0].points[2]'],
    ['a repeated consecutive point', [{ name: 'm', points: [[0, 0], [0.5, 0], [0.5, 0], [0.5, 0.5]] }], 'masks[0].points[2]'],
    ['a self-intersecting bow tie', [{ name: 'm', points: [[0.1, 0.1], [0.5, 0.5], [0.5, 0.1], [0.1, 0.5]] }], 'masks[0].points'],
    ['an edge folding back on its neighbour', [{ name: 'm', points: [[0.1, 0.1], [0.5, 0.1], [0.3, 0.1], [0.3, 0.5]] }], 'masks[0].points'],
    ['collinear points (zero area)', [{ name: 'm', points: [[0, 0], [0.5, 0.5], [1, 1]] }], 'masks[0].points'],
    ['a vanishing area', [{ name: 'm', points: [[0, 0], [1e-6, 0], [0, 1e-6]] }], 'masks[0].points'],
  ])('rejects %s, naming the field', (_what, input, field) => {
    expect(fieldOf(() => validateMasks(input))).toBe(field);
  });

  it('prefixes the field path it is given, e.g. the config path of the camera', () => {
    const bad = [{ name: 'm', points: [[0, 0], [1, 0], [1, 2]] }];
    expect(fieldOf(() => validateMasks(bad, 'cameras[2].privacyMasks'))).toBe('cameras[2].privacyMasks[0].points[2]');
  });

  it('accepts concave polygons, polygons on the frame border and an empty list, returning copies', () => {
    const input = [
      { name: 'L-shape', points: [[0, 0], [0.5, 0], [0.5, 0.2], [0.2, 0.2], [0.2, 0.6], [0, 0.6]] },
      { name: 'full', points: [[0, 0], [1, 0], [1, 1], [0, 1]] },
    ];
    const out = validateMasks(input);
    expect(out).toEqual(input);
    expect(out[0]).not.toBe(input[0]);
    expect(out[0]!.points).not.toBe(input[0]!.points);
    expect(validateMasks([])).toEqual([]);
  });
});

describe('maskCoverage', () => {
  it('counts exactly the pixels whose centre is inside, overlaps once', () => {
    const full: MaskPolygon = { name: 'all', points: [[0, 0], [1, 0], [1, 1], [0, 1]] };
    const quarter: MaskPolygon = { name: 'q', points: [[0.25, 0.25], [0.75, 0.25], [0.75, 0.75], [0.25, 0.75]] };
    expect(maskCoverage([full], 1920, 1080)).toBe(1);
    expect(maskCoverage([quarter], 1920, 1080)).toBe(0.25);
    expect(maskCoverage([quarter, { ...quarter, name: 'q2' }], 1920, 1080)).toBe(0.25);
    expect(maskCoverage([quarter, full], 640, 360)).toBe(1);
    expect(maskCoverage([], 640, 360)).toBe(0);
    const half: MaskPolygon = { name: 't', points: [[0, 0], [1, 0], [0, 1]] };
    expect(maskCoverage([half], 1000, 1000)).toBeCloseTo(0.5, 2);
  });

  it('rejects a frame size that is not a positive integer', () => {
    expect(fieldOf(() => maskCoverage([square()], 0, 10))).toBe('width');
    expect(fieldOf(() => maskCoverage([square()], 10, 1.5))).toBe('height');
  });
});

describe('burnInMasks', () => {
  // x 480..960, y 270..810 at 1920x1080.
  const rect: MaskPolygon = { name: 'neighbour-window', points: [[0.25, 0.25], [0.5, 0.25], [0.5, 0.75], [0.25, 0.75]] };
  const triangle: MaskPolygon = { name: 'doorway', points: [[0.6, 0.2], [0.9, 0.2], [0.75, 0.8]] };

  it('blackens every pixel inside a rectangle and leaves pixels well outside unchanged', async () => {
    const original = await brightFrame(1920, 1080);
    const masked = await burnInMasks(original, [rect]);
    const before = await decode(original);
    const after = await decode(masked);
    expect(after.width).toBe(1920);
    expect(after.height).toBe(1080);

    let samples = 0;
    for (let y = 270 + 2; y < 810 - 2; y += 4) {
      for (let x = 480 + 2; x < 960 - 2; x += 4) {
        expect(maxChannel(before, x, y)).toBeGreaterThan(100);
        expect(maxChannel(after, x, y), `pixel ${x},${y}`).toBeLessThanOrEqual(BLACK);
        if (Math.min(x - 480, 959 - x, y - 270, 809 - y) >= DEEP) expect(maxChannel(after, x, y)).toBeLessThanOrEqual(DEEP_BLACK);
        samples++;
      }
    }
    expect(samples).toBeGreaterThan(15_000);
    // Just outside the edge (3 px) is no longer black: the mask does not spread.
    expect(maxChannel(after, 476, 540)).toBeGreaterThan(100);
    expect(maxChannel(after, 964, 540)).toBeGreaterThan(100);

    const farOutside = (x: number, y: number) => x < 480 - 16 || x >= 960 + 16 || y < 270 - 16 || y >= 810 + 16;
    const diff = meanAbsDiff(before, after, farOutside);
    const generationLoss = meanAbsDiff(before, await decode(await reencode(original)), farOutside);
    expect(diff.count).toBeGreaterThan(300_000);
    expect(diff.mean).toBeLessThan(1);
    expect(diff.mean).toBeLessThanOrEqual(generationLoss.mean + 0.05);
  });

  it('blackens the inside of a triangle', async () => {
    const original = await brightFrame(1920, 1080);
    const before = await decode(original);
    const after = await decode(await burnInMasks(original, [triangle]));
    const [a, b, c] = triangle.points.map(([x, y]) => [x * 1920, y * 1080] as const) as [readonly [number, number], readonly [number, number], readonly [number, number]];
    // Signed distance of the pixel centre to each edge (positive inside, vertices clockwise on screen).
    const edgeDistance = (p: readonly [number, number], q: readonly [number, number], x: number, y: number) =>
      ((q[0] - p[0]) * (y - p[1]) - (q[1] - p[1]) * (x - p[0])) / Math.hypot(q[0] - p[0], q[1] - p[1]);
    const inset = (x: number, y: number) => Math.min(edgeDistance(a, b, x, y), edgeDistance(b, c, x, y), edgeDistance(c, a, x, y));

    let inside = 0;
    for (let y = 0; y < 1080; y += 3) {
      for (let x = 0; x < 1920; x += 3) {
        const depth = inset(x + 0.5, y + 0.5);
        if (depth >= 2) {
          expect(maxChannel(after, x, y), `pixel ${x},${y}`).toBeLessThanOrEqual(BLACK);
          if (depth >= DEEP) expect(maxChannel(after, x, y)).toBeLessThanOrEqual(DEEP_BLACK);
          inside++;
        }
      }
    }
    // Area of the triangle is 0.09 of the frame; a 3 px grid samples about 1/9 of it, minus the inset.
    expect(inside).toBeGreaterThan(0.09 * 1920 * 1080 * 0.8 / 9);
    const farOutside = (x: number, y: number) => inset(x + 0.5, y + 0.5) < -16;
    const diff = meanAbsDiff(before, after, farOutside);
    expect(diff.mean).toBeLessThan(1);
    expect(diff.mean).toBeLessThanOrEqual(meanAbsDiff(before, await decode(await reencode(original)), farOutside).mean + 0.05);
  });

  it('applies normalised masks identically at 640x360 and 3840x2160', async () => {
    const masks = [rect, triangle];
    const expected = maskCoverage(masks, 3840, 2160);
    expect(expected).toBeCloseTo(0.125 + 0.09, 2);
    const small = darkFraction(await decode(await burnInMasks(await brightFrame(640, 360), masks)));
    const large = darkFraction(await decode(await burnInMasks(await brightFrame(3840, 2160), masks)));
    expect(Math.abs(small - expected)).toBeLessThan(0.01);
    expect(Math.abs(large - expected)).toBeLessThan(0.01);
    expect(Math.abs(small - large)).toBeLessThan(0.01);
  });

  it('is idempotent: masking twice is masking once, up to one more JPEG generation', async () => {
    const original = await brightFrame(1920, 1080);
    const once = await burnInMasks(original, [rect, triangle]);
    const twice = await burnInMasks(once, [rect, triangle]);
    const a = await decode(once);
    const b = await decode(twice);
    const secondPass = meanAbsDiff(a, b, () => true).mean;
    expect(secondPass).toBeLessThan(0.5);
    expect(secondPass).toBeLessThanOrEqual(meanAbsDiff(a, await decode(await reencode(once)), () => true).mean + 0.05);
    expect(darkFraction(b)).toBeCloseTo(darkFraction(a), 3);
    expect(maxChannel(b, 700, 540)).toBeLessThanOrEqual(BLACK);
  });

  it('returns the input bytes themselves when there is no mask (no re-encode)', async () => {
    const original = await brightFrame(640, 360);
    const copy = Buffer.from(original);
    const out = await burnInMasks(original, []);
    expect(out.equals(copy)).toBe(true);
    expect(out).toBe(original);
  });

  it('returns a valid JPEG of the same dimensions at the requested quality', async () => {
    const original = await brightFrame(1280, 720);
    const q90 = await burnInMasks(original, [rect]);
    const q50 = await burnInMasks(original, [rect], { quality: 50 });
    for (const out of [q90, q50]) {
      expect(out.subarray(0, 3).equals(Buffer.from([0xff, 0xd8, 0xff]))).toBe(true);
      expect(out.subarray(-2).equals(Buffer.from([0xff, 0xd9]))).toBe(true);
      const meta = await sharp(out, { failOn: 'warning' }).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 1280, 720]);
    }
    expect(q50.length).toBeLessThan(q90.length);
  });

  it('masks the pixel grid as the camera sends it and keeps its EXIF orientation', async () => {
    // Orientation 6: viewers rotate 90° clockwise; the mask still refers to the stored grid.
    const original = await sharp(await brightFrame(640, 360)).jpeg({ quality: 90 }).withMetadata({ orientation: 6 }).toBuffer();
    expect((await sharp(original).metadata()).orientation).toBe(6);
    const topLeft: MaskPolygon = { name: 'tl', points: [[0, 0], [0.25, 0], [0.25, 0.25], [0, 0.25]] };
    const masked = await burnInMasks(original, [topLeft]);
    const meta = await sharp(masked).metadata();
    expect([meta.width, meta.height, meta.orientation]).toEqual([640, 360, 6]);
    const stored = await decode(masked);
    expect(maxChannel(stored, 40, 40)).toBeLessThanOrEqual(BLACK);
    expect(maxChannel(stored, 600, 40)).toBeGreaterThan(100);
    expect(maxChannel(stored, 40, 320)).toBeGreaterThan(100);
  });

  it('drops the camera EXIF and XMP, which could carry an unmasked thumbnail', async () => {
    const camera = await makeCameraJpeg({ width: 640, height: 360 }, ['-XMP-dc:Title=lobby']);
    expect(exiftool(camera, ['-s3', '-EXIF:Make'])).toContain('Hikvision');
    const masked = await burnInMasks(camera, [rect]);
    expect(exiftool(masked, ['-s3', '-EXIF:Make', '-XMP:all', '-ThumbnailImage'])).toBe('');
  });

  it('rejects a frame that is not a JPEG or is truncated, and a bad quality', async () => {
    const png = await makePng();
    await expect(burnInMasks(png, [rect])).rejects.toMatchObject({ code: 'jpeg.invalid' });
    const jpeg = await brightFrame(640, 360);
    await expect(burnInMasks(jpeg.subarray(0, jpeg.length >> 1), [rect])).rejects.toMatchObject({ code: 'jpeg.invalid' });
    await expect(burnInMasks(Buffer.from('<html>503</html>'), [rect])).rejects.toMatchObject({ code: 'jpeg.invalid' });
    await expect(burnInMasks(jpeg, [rect], { quality: 0 })).rejects.toMatchObject({ code: 'input.invalid', field: 'quality' });
  });

  it('validates the masks it is handed, failing closed', async () => {
    const jpeg = await brightFrame(64, 36);
    const bad = [{ name: 'x', points: [[0, 0], [2, 0], [1, 1]] }] as MaskPolygon[];
    await expect(burnInMasks(jpeg, bad)).rejects.toMatchObject({ code: 'input.invalid', field: 'masks[0].points[1]' });
  });
});
