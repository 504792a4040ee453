/**
 * Splits an MJPEG byte stream (ffmpeg `-f image2pipe -c:v mjpeg` or `-f mjpeg`: JPEGs back to back,
 * no multipart headers) into whole JPEG frames, whatever the chunk boundaries.
 *
 * The walk follows the JPEG structure instead of searching for FFD9: marker segments are skipped by
 * their length, so bytes inside headers (quantisation tables, APP segments, an EXIF thumbnail with
 * its own SOI/EOI) are never taken for a frame boundary; only in entropy-coded data are markers
 * looked for, where the encoder stuffs every 0xFF with 0x00 and FFD8/FFD9 cannot occur by chance.
 * What is assumed: segment lengths are right (ffmpeg's mjpeg encoder writes no EXIF and no
 * thumbnail at all, so the assumption is only tested by cameras that send their own MJPEG), and a
 * frame is complete at its first EOI after a scan.
 *
 * Memory is bounded: a frame's chunks are kept as views and copied once when it completes; a frame
 * growing past maxBytes is discarded (counted), and the walk resynchronises at the next SOI.
 */

export interface JpegSplitterStats {
  frames: number;
  /** Frames larger than maxBytes, dropped. */
  oversized: number;
  /** Frames cut short or structurally broken (a new SOI before EOI, a bad marker), dropped. */
  invalid: number;
  /** Bytes skipped while looking for an SOI (garbage between frames). */
  skippedBytes: number;
}

export interface JpegStreamSplitter {
  /** Feeds one chunk; returns the frames it completed, in order. */
  push(chunk: Buffer): Buffer[];
  /** Drops a frame in progress (the stream ended or was restarted) and starts hunting again. */
  reset(): void;
  stats(): JpegSplitterStats;
}

// Walk states.
const HUNT = 0; // looking for FF of SOI
const HUNT_FF = 1; // saw FF, want D8
const MARKER = 2; // in a frame, want the FF of the next marker
const MARKER_CODE = 3; // saw FF, want the marker code
const LEN_HI = 4;
const LEN_LO = 5;
const SKIP = 6; // inside a segment's payload
const ENTROPY = 7; // scan data, looking for FF
const ENTROPY_FF = 8; // scan data, saw FF

const SOI = 0xd8;
const EOI = 0xd9;
const SOS = 0xda;
const TEM = 0x01;
const isRst = (c: number) => c >= 0xd0 && c <= 0xd7;
const FF = Buffer.from([0xff]);

export function createJpegStreamSplitter(opts: { maxBytes: number }): JpegStreamSplitter {
  const { maxBytes } = opts;
  const stats: JpegSplitterStats = { frames: 0, oversized: 0, invalid: 0, skippedBytes: 0 };
  let state = HUNT;
  let marker = 0;
  let remaining = 0; // payload bytes still to skip, or the segment length being read
  let parts: Buffer[] = [];
  let size = 0; // bytes in parts
  let discarding = false; // the frame in progress is oversized: walk it, keep nothing

  const inFrame = () => state !== HUNT && state !== HUNT_FF;

  function dropFrame(): void {
    if (inFrame() && !discarding) stats.invalid += 1;
    parts = [];
    size = 0;
    discarding = false;
    state = HUNT;
  }

  return {
    push(chunk) {
      const out: Buffer[] = [];
      const n = chunk.length;
      let start = inFrame() ? 0 : -1; // where the frame in progress begins in this chunk
      let i = 0;

      const beginFrame = (d8: number) => {
        // The SOI's FF is the byte before D8, possibly the last byte of the previous chunk.
        parts = d8 >= 1 ? [] : [FF];
        size = parts.length;
        start = d8 >= 1 ? d8 - 1 : 0;
        discarding = false;
        state = MARKER;
      };
      const endFrame = (end: number) => {
        const total = size + (end - start);
        if (!discarding && total > maxBytes) stats.oversized += 1;
        else if (!discarding) {
          parts.push(chunk.subarray(start, end));
          out.push(parts.length === 1 ? Buffer.from(parts[0]!) : Buffer.concat(parts, total));
          stats.frames += 1;
        }
        parts = [];
        size = 0;
        discarding = false;
        start = -1;
        state = HUNT;
      };
      const broken = () => {
        dropFrame();
        start = -1;
      };
      const afterSegment = () => {
        state = marker === SOS ? ENTROPY : MARKER;
      };

      while (i < n) {
        switch (state) {
          case HUNT: {
            const k = chunk.indexOf(0xff, i);
            const to = k < 0 ? n : k + 1;
            stats.skippedBytes += to - i;
            i = to;
            if (k >= 0) state = HUNT_FF;
            break;
          }
          case HUNT_FF: {
            const c = chunk[i++]!;
            if (c === SOI) {
              stats.skippedBytes -= 1; // that FF belongs to the frame
              beginFrame(i - 1);
            } else if (c !== 0xff) {
              stats.skippedBytes += 1;
              state = HUNT;
            } else stats.skippedBytes += 1;
            break;
          }
          case MARKER: {
            if (chunk[i] === 0xff) {
              i += 1;
              state = MARKER_CODE;
            } else broken(); // rescan this byte while hunting
            break;
          }
          case MARKER_CODE:
          case ENTROPY_FF: {
            const c = chunk[i++]!;
            if (c === 0xff) break; // fill byte
            if (state === ENTROPY_FF && (c === 0x00 || isRst(c))) state = ENTROPY;
            else if (c === EOI) endFrame(i);
            else if (c === SOI) {
              dropFrame(); // a frame cut short by the next one
              beginFrame(i - 1);
            } else if (c === TEM || isRst(c)) state = MARKER;
            else if (c === 0x00) broken();
            else {
              marker = c;
              state = LEN_HI;
            }
            break;
          }
          case LEN_HI:
            remaining = chunk[i++]! << 8;
            state = LEN_LO;
            break;
          case LEN_LO: {
            remaining |= chunk[i++]!;
            if (remaining < 2) broken();
            else {
              remaining -= 2;
              if (remaining > 0) state = SKIP;
              else afterSegment();
            }
            break;
          }
          case SKIP: {
            const take = Math.min(remaining, n - i);
            i += take;
            remaining -= take;
            if (remaining === 0) afterSegment();
            break;
          }
          case ENTROPY: {
            const k = chunk.indexOf(0xff, i);
            if (k < 0) i = n;
            else {
              i = k + 1;
              state = ENTROPY_FF;
            }
            break;
          }
        }
      }

      if (inFrame() && !discarding && start >= 0) {
        parts.push(chunk.subarray(start));
        size += n - start;
        if (size > maxBytes) {
          stats.oversized += 1;
          discarding = true;
          parts = [];
          size = 0;
        }
      }
      return out;
    },
    reset() {
      dropFrame();
    },
    stats: () => ({ ...stats }),
  };
}
