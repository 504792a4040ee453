import { spawn, type ChildProcess } from 'node:child_process';
import type { Clock } from '../clock.js';
import type { Service } from '../lifecycle.js';
import type { Logger } from '../log.js';
import { backoffDelay, DEFAULT_BACKOFF, validBackoff, type BackoffPolicy } from './backoff.js';
import { createJpegStreamSplitter } from './jpeg-stream-splitter.js';

/**
 * Continuous frames from a camera's RTSP stream: one ffmpeg per camera decodes the stream and
 * re-encodes it as MJPEG at the configured rate on its stdout; every frame is handed to onFrame
 * (the capture path). ffmpeg dying or stalling is an outage: one `stream-failed` event, restarts with
 * backoff (logged, not evented), one `stream-restarted` event when frames flow again.
 */
export type StreamEvent =
  | {
      type: 'stream-failed';
      camera: string;
      at: string;
      reason: 'exited' | 'stalled' | 'spawn-failed';
      exitCode: number | null;
      signal: string | null;
      /** ffmpeg's last stderr lines, credentials removed. */
      stderrTail: string[];
      retryInMs: number;
    }
  | { type: 'stream-restarted'; camera: string; at: string; downtimeMs: number; attempts: number };

export interface RtspFrameSourceOptions {
  cameraId: string;
  url: string;
  /** Frames per second handed to onFrame (ffmpeg's fps filter); may be below 1. */
  fps: number;
  transport: 'tcp' | 'udp';
  ffmpegPath?: string;
  /** At most one call in flight; frames arriving meanwhile replace each other (newest kept). */
  onFrame: (jpeg: Buffer) => Promise<unknown>;
  onEvent: (e: StreamEvent) => void;
  clock: Clock;
  log: Logger;
  backoff?: BackoffPolicy;
  /** No frame for this long while running: ffmpeg is killed and restarted. Default max(10 s, 3 frame intervals). */
  stallMs?: number;
  /** Allowance for the first frame of a run (connect, probe, wait for a key frame). Default stallMs + 10 s. */
  firstFrameMs?: number;
  /** A run that delivered frames this long resets the backoff. Default 30 s. */
  stableMs?: number;
  maxFrameBytes?: number;
  /** SIGTERM, then SIGKILL after this long. Default 2 s. */
  killGraceMs?: number;
  random?: () => number;
}

export interface RtspFrameStats {
  state: 'idle' | 'connecting' | 'streaming' | 'backoff' | 'stopped';
  pid: number | undefined;
  /** Whole frames out of ffmpeg. */
  received: number;
  /** onFrame calls. */
  delivered: number;
  /** Replaced by a newer frame while onFrame was busy. */
  dropped: number;
  onFrameErrors: number;
  oversized: number;
  invalid: number;
  failures: number;
  restarts: number;
  lastFrameAt: string | null;
}

export interface RtspFrameSource extends Service {
  stats(): RtspFrameStats;
}

const STDERR_LINES = 20;
const STDERR_LINE_CHARS = 300;

/** Removes user:pass@ from every URL in a text, and the URL's own credentials wherever they appear. */
export function redactCredentials(text: string, url?: string): string {
  let out = text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]*@/gi, '$1***@');
  if (url !== undefined) {
    for (const secret of credentialsOf(url)) out = out.split(secret).join('***');
  }
  return out;
}

function credentialsOf(url: string): string[] {
  try {
    const u = new URL(url);
    // Only the password is a secret on its own; a short user name like "admin" would mangle text.
    return [u.password, decodeURIComponent(u.password)].filter((s) => s.length >= 3);
  } catch {
    return [];
  }
}

/**
 * Keeps a frame when at least 1/fps (less 5 ms of rounding) has passed since the last one kept, so
 * the rate is at most fps. Not the fps filter: it duplicates frames over gaps in the stream, which
 * would store one instant as several captures, and it waits for the next input frame to decide.
 */
export function frameSelect(fps: number): string {
  const interval = Math.max(0, 1 / fps - 0.005).toFixed(6);
  // The quotes keep the filtergraph parser from splitting at the comma.
  return `select='isnan(prev_selected_t)+gte(t-prev_selected_t,${interval})'`;
}

export function ffmpegArgs(o: { url: string; fps: number; transport: 'tcp' | 'udp'; ioTimeoutMs: number }): string[] {
  const us = String(o.ioTimeoutMs * 1000);
  return [
    '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error',
    // Input options go before -i, or ffmpeg applies them to the output.
    '-rtsp_transport', o.transport,
    // RTSP socket I/O timeout (ffmpeg 5.x; 4.x called it -stimeout). The generic -rw_timeout is
    // refused by the RTSP demuxer ("Option rw_timeout not found"). ffmpeg takes about twice this to
    // give up on a silent stream, and exits 0 when it does: the stall watchdog is what counts.
    '-timeout', us,
    '-analyzeduration', '1000000', // the SDP already describes the stream; default probing costs ~2 s
    '-i', o.url,
    '-an', '-sn', '-dn',
    '-vf', frameSelect(o.fps),
    '-fps_mode', 'passthrough',
    // -threads 1: the mjpeg encoder is frame-threaded and otherwise holds one frame back, which is
    // a whole interval of latency (1.13 s instead of 0.13 s at 1 fps, measured).
    '-f', 'image2pipe', '-c:v', 'mjpeg', '-q:v', '3', '-threads', '1', '-flush_packets', '1', '-',
  ];
}

export function createRtspFrameSource(o: RtspFrameSourceOptions): RtspFrameSource {
  const policy = o.backoff ?? DEFAULT_BACKOFF;
  if (!validBackoff(policy)) throw new RangeError('backoff: need 0 < initialMs <= maxMs and factor >= 1');
  if (!(o.fps > 0)) throw new RangeError('fps must be above 0');
  const stallMs = o.stallMs ?? Math.max(10_000, 3_000 / o.fps);
  const firstFrameMs = o.firstFrameMs ?? stallMs + 10_000;
  const stableMs = o.stableMs ?? 30_000;
  const killGraceMs = o.killGraceMs ?? 2_000;
  const random = o.random ?? Math.random;
  const log = o.log.child({ component: 'rtsp-frames', camera: o.cameraId });
  const args = ffmpegArgs({ url: o.url, fps: o.fps, transport: o.transport, ioTimeoutMs: Math.min(stallMs, 10_000) });
  const splitter = createJpegStreamSplitter({ maxBytes: o.maxFrameBytes ?? 16 * 1024 * 1024 });

  const counts = { received: 0, delivered: 0, dropped: 0, onFrameErrors: 0, failures: 0, restarts: 0 };
  let state: RtspFrameStats['state'] = 'idle';
  let lastFrameAt: Date | null = null;
  let child: ChildProcess | undefined;
  let stopping = false;
  let loopDone: Promise<void> = Promise.resolve();
  let wakeBackoff: (() => void) | undefined;

  // Delivery: one onFrame in flight, at most one frame waiting (the newest).
  let inFlight: Promise<void> | undefined;
  let waiting: Buffer | undefined;

  function deliver(frame: Buffer): void {
    counts.delivered += 1;
    inFlight = (async () => {
      try {
        await o.onFrame(frame);
      } catch (error) {
        counts.onFrameErrors += 1;
        log.warn({ err: error }, 'onFrame failed');
      }
    })().finally(() => {
      inFlight = undefined;
      const next = waiting;
      waiting = undefined;
      if (next !== undefined && !stopping) deliver(next);
    });
  }

  function offer(frame: Buffer): void {
    counts.received += 1;
    if (stopping) return;
    if (inFlight === undefined) deliver(frame);
    else {
      if (waiting !== undefined) counts.dropped += 1;
      waiting = frame;
    }
  }

  function emit(e: StreamEvent): void {
    try {
      o.onEvent(e);
    } catch (error) {
      log.error({ err: error, event: e.type }, 'onEvent failed');
    }
  }

  interface RunResult {
    reason: 'exited' | 'stalled' | 'spawn-failed';
    exitCode: number | null;
    signal: string | null;
    stderrTail: string[];
    firstFrameAt: Date | null;
  }

  /** One ffmpeg process, from spawn to exit. `onFirstFrame` runs when its first frame arrives. */
  function runOnce(onFirstFrame: () => void): Promise<RunResult> {
    return new Promise((resolve) => {
      const tail: string[] = [];
      let partial = '';
      let firstFrameAt: Date | null = null;
      let reason: RunResult['reason'] = 'exited';
      let settled = false;
      splitter.reset();
      state = 'connecting';

      const proc = spawn(o.ffmpegPath ?? 'ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child = proc;

      const onStall = () => {
        reason = 'stalled';
        log.warn({ afterMs: firstFrameAt === null ? firstFrameMs : stallMs }, 'no frame: killing ffmpeg');
        void kill(proc);
      };
      // The first frame gets a longer allowance (connect, probe, wait for a key frame).
      let watchdog = setTimeout(onStall, firstFrameMs);

      const finish = (exitCode: number | null, signal: string | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(watchdog);
        if (partial) pushLine(partial);
        if (child === proc) child = undefined;
        resolve({ reason, exitCode, signal, stderrTail: tail, firstFrameAt });
      };
      const pushLine = (line: string) => {
        const clean = redactCredentials(line.trimEnd(), o.url).slice(0, STDERR_LINE_CHARS);
        if (clean === '') return;
        tail.push(clean);
        if (tail.length > STDERR_LINES) tail.shift();
      };

      proc.on('error', (error: NodeJS.ErrnoException) => {
        if (proc.pid === undefined) {
          reason = 'spawn-failed';
          pushLine(`${error.code ?? 'error'}: ${error.message}`);
          finish(null, null);
        } else log.warn({ err: error }, 'ffmpeg process error');
      });
      proc.on('close', (code, signal) => finish(code, signal));
      proc.stdout!.on('error', () => undefined);
      proc.stderr!.on('error', () => undefined);
      proc.stderr!.setEncoding('utf8');
      proc.stderr!.on('data', (text: string) => {
        const lines = (partial + text).split(/\r?\n|\r/);
        partial = lines.pop() ?? '';
        for (const line of lines) pushLine(line);
        if (partial.length > STDERR_LINE_CHARS * 4) {
          pushLine(partial);
          partial = '';
        }
      });
      proc.stdout!.on('data', (chunk: Buffer) => {
        for (const frame of splitter.push(chunk)) {
          lastFrameAt = o.clock.now();
          if (settled) continue;
          if (firstFrameAt === null) {
            firstFrameAt = lastFrameAt;
            state = 'streaming';
            clearTimeout(watchdog);
            watchdog = setTimeout(onStall, stallMs);
            onFirstFrame();
          } else watchdog.refresh();
          offer(frame);
        }
      });
    });
  }

  /** SIGTERM, then SIGKILL after the grace time; resolves when the process has exited. */
  function kill(proc: ChildProcess): Promise<void> {
    if (proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) return Promise.resolve();
    return new Promise((resolve) => {
      const hard = setTimeout(() => proc.kill('SIGKILL'), killGraceMs);
      proc.once('exit', () => {
        clearTimeout(hard);
        resolve();
      });
      proc.kill('SIGTERM');
    });
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        wakeBackoff = undefined;
        resolve();
      }
      wakeBackoff = done;
    });
  }

  async function loop(): Promise<void> {
    let attempt = 0;
    let outageSince: Date | null = null;
    let outageAttempts = 0;
    while (!stopping) {
      const run = await runOnce(() => {
        if (outageSince === null) return;
        counts.restarts += 1;
        const at = o.clock.now();
        emit({ type: 'stream-restarted', camera: o.cameraId, at: at.toISOString(), downtimeMs: at.getTime() - outageSince.getTime(), attempts: outageAttempts });
        log.info({ downtimeMs: at.getTime() - outageSince.getTime(), attempts: outageAttempts }, 'stream restarted');
        outageSince = null;
        outageAttempts = 0;
      });
      if (stopping) break;
      const now = o.clock.now();
      if (run.firstFrameAt !== null && now.getTime() - run.firstFrameAt.getTime() >= stableMs) attempt = 0;
      const retryInMs = backoffDelay(attempt, policy, random());
      attempt += 1;
      counts.failures += 1;
      const detail = { reason: run.reason, exitCode: run.exitCode, signal: run.signal, retryInMs };
      if (outageSince === null) {
        outageSince = now;
        outageAttempts = 0;
        log.warn({ ...detail, stderrTail: run.stderrTail }, 'stream failed');
        emit({ type: 'stream-failed', camera: o.cameraId, at: now.toISOString(), ...detail, stderrTail: run.stderrTail });
      } else log.debug({ ...detail, stderrTail: run.stderrTail }, 'restart attempt failed');
      outageAttempts += 1;
      state = 'backoff';
      await sleep(retryInMs);
    }
    state = 'stopped';
  }

  async function stop(): Promise<void> {
    stopping = true;
    waiting = undefined;
    wakeBackoff?.();
    if (child !== undefined) await kill(child);
    await loopDone;
    await inFlight;
    state = 'stopped';
  }

  return {
    name: `rtsp-frames:${o.cameraId}`,
    start(signal) {
      if (state !== 'idle') return;
      if (signal.aborted) {
        state = 'stopped';
        return;
      }
      signal.addEventListener('abort', () => void stop(), { once: true });
      log.info({ url: redactCredentials(o.url, o.url), fps: o.fps, transport: o.transport }, 'starting');
      loopDone = loop().catch((error: unknown) => {
        // Nothing in loop() should throw; if it does, this camera stops, the agent does not.
        state = 'stopped';
        log.error({ err: error }, 'frame source crashed');
      });
    },
    stop,
    stats: () => ({
      state,
      pid: child?.pid,
      ...counts,
      oversized: splitter.stats().oversized,
      invalid: splitter.stats().invalid,
      lastFrameAt: lastFrameAt?.toISOString() ?? null,
    }),
  };
}
