import type { ChildProcess } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { redactCredentials } from '../cameras/rtsp-frames.js';
import type { Logger } from '../log.js';

/**
 * One camera's live stream for every viewer of it: node-rtsp-stream's Mpeg1Muxer runs ffmpeg
 * (RTSP in, MPEG-TS with MPEG-1 video out, which JSMpeg decodes in the browser) and this relays
 * its output to each viewer after node-rtsp-stream's 8-byte header ("jsmp", width, height as
 * UInt16BE). Its own VideoStream WebSocket server is never used: it listens on every interface
 * with no authentication. The caller owns the viewers; the relay only feeds them and says when
 * the stream failed.
 *
 * Mpeg1Muxer puts every extra option after `-i`, so only output options work here: no
 * `-rtsp_transport tcp` (ffmpeg tries UDP first and falls back to TCP on 461), no socket timeout
 * (the stall watchdog below is what ends a silent camera) and no shorter probe (ffmpeg reads about
 * 5 s of a 5 fps stream before its first output, measured).
 */
export interface RelayViewer {
  send(data: Buffer): void;
  /** Bytes queued on the viewer's socket; above the relay's limit, chunks are dropped for it. */
  bufferedAmount(): number;
}

export interface RelayFailure {
  reason: 'url-failed' | 'spawn-failed' | 'exited' | 'stalled' | 'no-video';
  exitCode: number | null;
  signal: string | null;
  /** ffmpeg's last stderr lines, credentials removed. */
  stderrTail: string[];
}

export interface Mpeg1RelayOptions {
  cameraId: string;
  resolveUrl: () => Promise<string>;
  /** Every viewer is dropped by the caller on failure; the relay has stopped by then. */
  onFailure: (f: RelayFailure) => void;
  log: Logger;
  ffmpegPath?: string;
  /** Wider sources are scaled down (aspect kept). Default 1280. */
  maxWidth?: number;
  /** MPEG-1 video bit rate. Default 1500 kbit/s. */
  bitrateKbps?: number;
  /** Connect, probe and first output. Default 20 s. */
  firstDataMs?: number;
  /** No output for this long once streaming: ffmpeg is killed. Default 10 s. */
  stallMs?: number;
  /** SIGTERM, then SIGKILL after this long. Default 2 s. */
  killGraceMs?: number;
  /** Per viewer; beyond it chunks are skipped for that viewer, which resynchronises on a TS packet. Default 4 MiB. */
  maxBufferedBytes?: number;
}

export interface Mpeg1Relay {
  readonly cameraId: string;
  add(viewer: RelayViewer): void;
  /** Returns how many viewers remain. */
  remove(viewer: RelayViewer): number;
  viewers(): number;
  pid(): number | undefined;
  /** Picture size once ffmpeg's first sequence header went by. */
  size(): { width: number; height: number } | undefined;
  /** Kills ffmpeg (SIGTERM, then SIGKILL) and resolves once it has exited. */
  stop(): Promise<void>;
}

interface Mpeg1Muxer extends EventEmitter {
  stream: ChildProcess;
}
type Mpeg1MuxerCtor = new (o: { url: string; ffmpegPath: string; ffmpegOptions: Record<string, string> }) => Mpeg1Muxer;

const require = createRequire(import.meta.url);
const Mpeg1Muxer = require('node-rtsp-stream/mpeg1muxer') as Mpeg1MuxerCtor;

export const TS_PACKET = 188;
const STREAM_MAGIC = Buffer.from('jsmp', 'ascii');
const SEQUENCE_HEADER = Buffer.from([0x00, 0x00, 0x01, 0xb3]);
/** Output that carries no MPEG-1 sequence header by then is not a picture we can announce. */
const MAX_PREAMBLE_BYTES = 4 * 1024 * 1024;
const STDERR_LINES = 20;

/** node-rtsp-stream's stream header: struct { char magic[4]; uint16be width, height; }. */
export function streamHeader(width: number, height: number): Buffer {
  const b = Buffer.alloc(8);
  STREAM_MAGIC.copy(b, 0);
  b.writeUInt16BE(width, 4);
  b.writeUInt16BE(height, 6);
  return b;
}

/** Width and height from the first MPEG-1 sequence header (ISO/IEC 11172-2 2.4.2.3) in a buffer. */
export function findSequenceSize(buf: Buffer): { width: number; height: number } | undefined {
  for (let i = buf.indexOf(SEQUENCE_HEADER); i >= 0 && i + 7 <= buf.length; i = buf.indexOf(SEQUENCE_HEADER, i + 1)) {
    const width = (buf[i + 4]! << 4) | (buf[i + 5]! >> 4);
    const height = ((buf[i + 5]! & 0x0f) << 8) | buf[i + 6]!;
    if (width > 0 && height > 0) return { width, height };
  }
  return undefined;
}

/** Output options only (see above); -r 25 because MPEG-1 knows no 5 or 12.5 fps, which cameras send. */
export function muxerOptions(o: { maxWidth: number; bitrateKbps: number }): Record<string, string> {
  return {
    '-nostdin': '',
    '-loglevel': 'error',
    '-an': '', // no sound: the notice announces images, not audio
    '-sn': '',
    '-dn': '',
    '-vf': `scale='min(iw,${o.maxWidth})':-2`,
    '-r': '25',
    '-b:v': `${o.bitrateKbps}k`,
    '-bf': '0', // JSMpeg decodes no B-frames
    '-flush_packets': '1',
  };
}

export function createMpeg1Relay(o: Mpeg1RelayOptions): Mpeg1Relay {
  const firstDataMs = o.firstDataMs ?? 20_000;
  const stallMs = o.stallMs ?? 10_000;
  const killGraceMs = o.killGraceMs ?? 2_000;
  const maxBuffered = o.maxBufferedBytes ?? 4 * 1024 * 1024;
  const log = o.log.child({ component: 'live-relay', camera: o.cameraId });

  interface Slot { viewer: RelayViewer; aligning: boolean }
  const slots = new Map<RelayViewer, Slot>();
  let child: ChildProcess | undefined;
  let url = '';
  let stopping = false;
  let failed = false;
  let exited: Promise<void> = Promise.resolve();
  let watchdog: NodeJS.Timeout | undefined;
  let size: { width: number; height: number } | undefined;
  let preamble: Buffer[] = [];
  let preambleBytes = 0;
  let streamBytes = 0;
  const tail: string[] = [];

  function fail(reason: RelayFailure['reason'], exitCode: number | null = null, signal: string | null = null): void {
    if (stopping || failed) return;
    failed = true;
    clearTimeout(watchdog);
    const f: RelayFailure = { reason, exitCode, signal, stderrTail: [...tail] };
    log.warn({ reason, exitCode, signal, stderrTail: f.stderrTail }, 'live stream failed');
    void stop();
    try {
      o.onFailure(f);
    } catch (error) {
      log.error({ err: error }, 'onFailure threw');
    }
  }

  function deliver(slot: Slot, chunk: Buffer, chunkStart: number): void {
    const v = slot.viewer;
    if (v.bufferedAmount() > maxBuffered) {
      slot.aligning = true; // a slow viewer skips video rather than holding memory
      return;
    }
    let data = chunk;
    if (slot.aligning) {
      const skip = (TS_PACKET - (chunkStart % TS_PACKET)) % TS_PACKET;
      if (skip >= chunk.length) return;
      data = chunk.subarray(skip);
      slot.aligning = false;
    }
    v.send(data);
  }

  function onData(chunk: Buffer): void {
    if (stopping || failed) return;
    watchdog?.refresh();
    const chunkStart = streamBytes;
    streamBytes += chunk.length;
    if (size === undefined) {
      preamble.push(chunk);
      preambleBytes += chunk.length;
      const all = Buffer.concat(preamble);
      size = findSequenceSize(all);
      if (size === undefined) {
        if (preambleBytes > MAX_PREAMBLE_BYTES) fail('no-video');
        else preamble = [all];
        return;
      }
      // Everyone so far gets the stream from its first byte, header first.
      preamble = [];
      clearTimeout(watchdog);
      watchdog = setTimeout(() => fail('stalled'), stallMs);
      log.info({ width: size.width, height: size.height, pid: child?.pid }, 'live stream started');
      const header = streamHeader(size.width, size.height);
      for (const slot of slots.values()) {
        slot.viewer.send(header);
        slot.viewer.send(all);
      }
      return;
    }
    for (const slot of slots.values()) deliver(slot, chunk, chunkStart);
  }

  function pushStderr(text: string): void {
    for (const line of text.split(/\r?\n|\r/)) {
      const clean = redactCredentials(line.trimEnd(), url).slice(0, 300);
      if (clean === '') continue;
      tail.push(clean);
      if (tail.length > STDERR_LINES) tail.shift();
    }
  }

  function spawnMuxer(): void {
    let muxer: Mpeg1Muxer;
    try {
      muxer = new Mpeg1Muxer({
        url,
        ffmpegPath: o.ffmpegPath ?? 'ffmpeg',
        ffmpegOptions: muxerOptions({ maxWidth: o.maxWidth ?? 1280, bitrateKbps: o.bitrateKbps ?? 1500 }),
      });
    } catch (error) {
      pushStderr(String(error));
      fail('spawn-failed');
      return;
    }
    const proc = muxer.stream;
    child = proc;
    exited = new Promise((resolve) => proc.once('close', () => resolve()));
    // Without these a missing ffmpeg (ENOENT) or a broken pipe would be an uncaught 'error'.
    proc.on('error', (error: NodeJS.ErrnoException) => {
      pushStderr(`${error.code ?? 'error'}: ${error.message}`);
      if (proc.pid === undefined) {
        exited = Promise.resolve();
        fail('spawn-failed');
      }
    });
    proc.stdout?.on('error', () => undefined);
    proc.stderr?.on('error', () => undefined);
    muxer.on('mpeg1data', onData);
    muxer.on('ffmpegStderr', (d: Buffer) => pushStderr(d.toString('utf8')));
    proc.once('exit', (code, signal) => {
      clearTimeout(watchdog);
      if (child === proc) child = undefined;
      fail('exited', code, signal);
    });
    watchdog = setTimeout(() => fail('stalled'), firstDataMs);
    log.info({ url: redactCredentials(url, url), pid: proc.pid }, 'live stream starting');
  }

  async function start(): Promise<void> {
    try {
      url = await o.resolveUrl();
    } catch (error) {
      pushStderr(redactCredentials(error instanceof Error ? error.message : String(error)));
      fail('url-failed');
      return;
    }
    if (stopping) return;
    spawnMuxer();
  }

  async function stop(): Promise<void> {
    stopping = true;
    clearTimeout(watchdog);
    slots.clear();
    const proc = child;
    if (proc !== undefined && proc.exitCode === null && proc.signalCode === null && proc.pid !== undefined) {
      const hard = setTimeout(() => proc.kill('SIGKILL'), killGraceMs);
      proc.kill('SIGTERM');
      await exited;
      clearTimeout(hard);
    } else await exited;
  }

  let started = false;
  return {
    cameraId: o.cameraId,
    add(viewer) {
      if (stopping || failed) throw new Error('relay stopped');
      const slot: Slot = { viewer, aligning: size !== undefined };
      slots.set(viewer, slot);
      if (size !== undefined) viewer.send(streamHeader(size.width, size.height));
      if (!started) {
        started = true;
        void start();
      }
    },
    remove(viewer) {
      slots.delete(viewer);
      return slots.size;
    },
    viewers: () => slots.size,
    pid: () => child?.pid,
    size: () => size,
    stop,
  };
}
