import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backoffDelay, validBackoff } from '../../agent/cameras/backoff.js';
import { createRtspFrameSource, ffmpegArgs, redactCredentials, type RtspFrameSourceOptions, type StreamEvent } from '../../agent/cameras/rtsp-frames.js';
import { systemClock } from '../../agent/clock.js';
import { silentLogger } from '../../agent/log.js';

/*
 * A real RTSP peer: ffmpeg encodes a test pattern to H.264 RTP on a loopback UDP port, and a small
 * RTSP server here answers OPTIONS/DESCRIBE/SETUP/PLAY (Basic auth when asked) and relays the RTP
 * packets to each playing client, interleaved on TCP or over UDP. ffmpeg's own RTSP muxer cannot
 * listen for players (`-rtsp_flags listen` is for receiving a pushed stream), hence this relay.
 */
interface TestRtspServer {
  port: number;
  encoderPid: number;
  /** Keeps connections open but stops sending media: a stalled camera. */
  pause(): void;
  stop(): Promise<void>;
}

async function startRtspServer(o: { port?: number; fps: number; size: string; user?: string; pass?: string }): Promise<TestRtspServer> {
  const dir = await mkdtemp(join(tmpdir(), 'rtsp-'));
  const sdpFile = join(dir, 'stream.sdp');
  const media = dgram.createSocket('udp4');
  media.bind(0, '127.0.0.1');
  await once(media, 'listening');
  const out = dgram.createSocket('udp4');
  out.bind(0, '127.0.0.1');
  await once(out, 'listening');
  const mediaPort = media.address().port;
  const encoder: ChildProcess = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', `testsrc2=size=${o.size}:rate=${o.fps}`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', String(o.fps), '-pix_fmt', 'yuv420p',
    '-f', 'rtp', '-sdp_file', sdpFile, `rtp://127.0.0.1:${mediaPort}?rtcpport=${mediaPort}&pkt_size=1200`], { stdio: ['ignore', 'ignore', 'inherit'] });
  let sdp = '';
  for (let i = 0; i < 200 && !sdp.includes('m=video'); i += 1) {
    await new Promise((r) => setTimeout(r, 50));
    sdp = await readFile(sdpFile, 'utf8').catch(() => '');
  }
  if (!sdp.includes('m=video')) throw new Error('encoder wrote no SDP');
  sdp = sdp.replace(/^c=IN IP4 .*$/m, 'c=IN IP4 0.0.0.0').replace(/^m=video \d+/m, 'm=video 0').trimEnd() + '\r\na=control:track0\r\n';
  sdp = sdp.replace(/\r?\n/g, '\r\n');

  interface Client { socket: net.Socket; mode?: 'tcp' | 'udp'; rtpPort?: number; rtcpPort?: number; playing: boolean }
  const clients = new Set<Client>();
  let paused = false;
  media.on('message', (pkt) => {
    if (paused) return;
    const pt = pkt[1]!;
    const rtcp = pt >= 200 && pt <= 204;
    for (const c of clients) {
      if (!c.playing) continue;
      if (c.mode === 'tcp') c.socket.write(Buffer.concat([Buffer.from([0x24, rtcp ? 1 : 0, pkt.length >> 8, pkt.length & 0xff]), pkt]));
      else out.send(pkt, rtcp ? c.rtcpPort! : c.rtpPort!, '127.0.0.1');
    }
  });
  const auth = o.user === undefined ? undefined : 'Basic ' + Buffer.from(`${o.user}:${o.pass ?? ''}`).toString('base64');
  const server = net.createServer((socket) => {
    const c: Client = { socket, playing: false };
    clients.add(c);
    socket.on('close', () => clients.delete(c));
    socket.on('error', () => clients.delete(c));
    let text = '';
    socket.on('data', (d) => {
      text += d.toString('latin1');
      for (let end = text.indexOf('\r\n\r\n'); end >= 0; end = text.indexOf('\r\n\r\n')) {
        const head = text.slice(0, end);
        text = text.slice(end + 4);
        const [line = '', ...rest] = head.split('\r\n');
        const h = new Map(rest.map((l) => [l.slice(0, l.indexOf(':')).trim().toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
        const [method = '', url = ''] = line.split(' ');
        const reply = (status: string, headers: Record<string, string> = {}, body = '') => {
          const all = { CSeq: h.get('cseq') ?? '0', ...headers, ...(body ? { 'Content-Length': String(Buffer.byteLength(body)) } : {}) };
          socket.write(`RTSP/1.0 ${status}\r\n${Object.entries(all).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n${body}`);
        };
        if (method !== 'OPTIONS' && auth !== undefined && h.get('authorization') !== auth) {
          reply('401 Unauthorized', { 'WWW-Authenticate': 'Basic realm="camwarden-test"' });
          continue;
        }
        if (method === 'OPTIONS') reply('200 OK', { Public: 'OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER' });
        else if (method === 'DESCRIBE') reply('200 OK', { 'Content-Base': `${url.replace(/\/$/, '')}/`, 'Content-Type': 'application/sdp' }, sdp);
        else if (method === 'SETUP') {
          const t = h.get('transport') ?? '';
          const ports = /client_port=(\d+)-(\d+)/.exec(t);
          if (t.includes('TCP') || !ports) {
            c.mode = 'tcp';
            reply('200 OK', { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1', Session: '4242;timeout=60' });
          } else {
            c.mode = 'udp';
            c.rtpPort = Number(ports[1]);
            c.rtcpPort = Number(ports[2]);
            const sp = out.address().port;
            reply('200 OK', { Transport: `RTP/AVP;unicast;client_port=${ports[1]}-${ports[2]};server_port=${sp}-${sp}`, Session: '4242;timeout=60' });
          }
        } else if (method === 'PLAY') {
          c.playing = true;
          reply('200 OK', { Session: '4242', Range: 'npt=0.000-' });
        } else if (method === 'TEARDOWN') {
          c.playing = false;
          reply('200 OK', { Session: '4242' });
        } else reply('200 OK', { Session: '4242' });
      }
    });
  });
  server.listen(o.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  let stopped = false;
  return {
    port,
    encoderPid: encoder.pid!,
    pause: () => {
      paused = true;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      const exited = encoder.exitCode !== null || encoder.signalCode !== null ? Promise.resolve() : once(encoder, 'exit');
      encoder.kill('SIGKILL');
      for (const c of clients) c.socket.destroy();
      await Promise.all([new Promise((r) => server.close(r)), exited]);
      media.close();
      out.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const SECRET = 'pa55-w0rd-s3cret';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const isWholeJpeg = (b: Buffer) => b[0] === 0xff && b[1] === 0xd8 && b.at(-2) === 0xff && b.at(-1) === 0xd9;

async function until(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as net.AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

function captureLog() {
  const lines: string[] = [];
  const log = pino({ level: 'debug' }, new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }));
  return { log, lines };
}

const sources: { stop(): Promise<void> | void }[] = [];

function source(over: Partial<RtspFrameSourceOptions> & Pick<RtspFrameSourceOptions, 'url'>) {
  const frames: Buffer[] = [];
  const events: StreamEvent[] = [];
  const s = createRtspFrameSource({
    cameraId: 'cam-1',
    fps: 5,
    transport: 'tcp',
    onFrame: async (f) => void frames.push(f),
    onEvent: (e) => void events.push(e),
    clock: systemClock,
    log: silentLogger,
    backoff: { initialMs: 200, maxMs: 1_000, factor: 2 },
    ...over,
  });
  sources.push(s);
  return { s, frames, events, of: (type: StreamEvent['type']) => events.filter((e) => e.type === type) };
}

afterAll(async () => {
  await Promise.all(sources.map((s) => s.stop()));
});

describe('backoff', () => {
  const policy = { initialMs: 1_000, maxMs: 60_000, factor: 2 };

  it('grows by the factor from initialMs and stops at maxMs', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 50].map((n) => backoffDelay(n, policy, 0.999999))).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]);
  });

  it('randomises the upper half of each step only', () => {
    expect([0, 3, 9].map((n) => backoffDelay(n, policy, 0))).toEqual([500, 4_000, 30_000]);
    expect(backoffDelay(3, policy, 0.5)).toBe(6_000);
  });

  it('stays finite and at least half of initialMs whatever the attempt number', () => {
    expect(backoffDelay(1e9, policy, 0.3)).toBe(39_000);
    expect(backoffDelay(-5, policy, 0)).toBe(500);
  });

  it('refuses policies that would spin or shrink', () => {
    expect(validBackoff(policy)).toBe(true);
    expect(validBackoff({ initialMs: 0, maxMs: 10, factor: 2 })).toBe(false);
    expect(validBackoff({ initialMs: 100, maxMs: 10, factor: 2 })).toBe(false);
    expect(validBackoff({ initialMs: 100, maxMs: 1_000, factor: 0.5 })).toBe(false);
  });
});

describe('ffmpeg command line and redaction', () => {
  it('puts the RTSP input options before -i and asks for MJPEG on stdout at the configured rate', () => {
    const args = ffmpegArgs({ url: 'rtsp://cam/live', fps: 0.5, transport: 'udp', ioTimeoutMs: 5_000 });
    const input = args.indexOf('-i');
    expect(args.indexOf('-rtsp_transport')).toBeLessThan(input);
    expect(args[args.indexOf('-rtsp_transport') + 1]).toBe('udp');
    expect(args[args.indexOf('-timeout') + 1]).toBe('5000000');
    expect(args.indexOf('-timeout')).toBeLessThan(input);
    expect(args.slice(input, input + 8)).toEqual(['-i', 'rtsp://cam/live', '-an', '-sn', '-dn', '-vf', "select='isnan(prev_selected_t)+gte(t-prev_selected_t,1.995000)'", '-fps_mode']);
    expect(args.slice(-11)).toEqual(['-f', 'image2pipe', '-c:v', 'mjpeg', '-q:v', '3', '-threads', '1', '-flush_packets', '1', '-']);
  });

  it('removes user:pass@ from any URL and the configured password anywhere', () => {
    const url = `rtsp://admin:${SECRET}@10.0.0.7:554/Streaming/101`;
    expect(redactCredentials(`${url}: 401 Unauthorized`, url)).toBe('rtsp://***@10.0.0.7:554/Streaming/101: 401 Unauthorized');
    expect(redactCredentials(`tried ${SECRET} twice, then http://u:p@x/y`, url)).toBe('tried *** twice, then http://***@x/y');
    expect(redactCredentials('rtsp://10.0.0.7/live', 'rtsp://10.0.0.7/live')).toBe('rtsp://10.0.0.7/live');
  });
});

describe('RTSP frame source against a real RTSP stream', () => {
  let live: TestRtspServer;
  let url: string;
  beforeAll(async () => {
    live = await startRtspServer({ fps: 10, size: '640x360' });
    url = `rtsp://127.0.0.1:${live.port}/live`;
  });
  afterAll(async () => {
    await live?.stop();
  });

  it('hands over whole JPEGs at about the configured rate, and stop() leaves no ffmpeg behind', async () => {
    const { s, frames, events } = source({ url, fps: 5 });
    s.start(new AbortController().signal);
    await until('the first frame', () => frames.length > 0, 15_000);
    const n0 = frames.length;
    const t0 = Date.now();
    await sleep(3_000);
    const rate = (frames.length - n0) / ((Date.now() - t0) / 1_000);
    // The rate filter, not the machine, sets the pace: never above 5/s; the lower bound is loose
    // because a loaded box slows the test pattern's encoder too.
    expect(rate).toBeGreaterThan(2);
    expect(rate).toBeLessThan(6.5);
    expect(frames.every(isWholeJpeg)).toBe(true);
    expect(await sharp(frames.at(-1)!).metadata()).toMatchObject({ format: 'jpeg', width: 640, height: 360 });
    const pid = s.stats().pid!;
    expect(alive(pid)).toBe(true);
    await s.stop();
    expect(alive(pid)).toBe(false);
    expect(s.stats()).toMatchObject({ state: 'stopped', pid: undefined, dropped: 0, failures: 0 });
    expect(events).toEqual([]);
  });

  it('receives the stream over UDP too', async () => {
    const { s, frames } = source({ url, fps: 10, transport: 'udp' });
    s.start(new AbortController().signal);
    await until('5 frames over UDP', () => frames.length >= 5, 15_000);
    expect(frames.every(isWholeJpeg)).toBe(true);
    await s.stop();
  });

  it('stops ffmpeg when the abort signal fires', async () => {
    const ac = new AbortController();
    const { s, frames } = source({ url });
    s.start(ac.signal);
    await until('the first frame', () => frames.length > 0, 15_000);
    const pid = s.stats().pid!;
    ac.abort();
    await until('ffmpeg to exit', () => !alive(pid), 5_000);
    await s.stop();
    expect(s.stats().state).toBe('stopped');
  });

  it('drops frames instead of queueing them when onFrame is slower than the stream', async () => {
    let busy = 0;
    let maxBusy = 0;
    const { s } = source({
      url,
      fps: 10,
      onFrame: async () => {
        busy += 1;
        maxBusy = Math.max(maxBusy, busy);
        await sleep(200);
        busy -= 1;
      },
    });
    s.start(new AbortController().signal);
    await until('the first frame', () => s.stats().received > 0, 15_000);
    await sleep(3_000);
    const st = s.stats();
    await s.stop();
    expect(maxBusy).toBe(1);
    expect(st.received).toBeGreaterThanOrEqual(20); // ~10/s
    expect(st.delivered).toBeLessThanOrEqual(st.received * 0.7); // ~5/s at 200 ms each
    expect(st.dropped).toBeGreaterThanOrEqual(st.received * 0.3);
    // Every frame is delivered, dropped, or the one waiting (newest kept).
    expect(st.received - st.delivered - st.dropped).toBeGreaterThanOrEqual(0);
    expect(st.received - st.delivered - st.dropped).toBeLessThanOrEqual(1);
  });
});

describe('RTSP frame source when the stream fails', () => {
  it('raises stream-failed when the server dies, restarts with backoff, raises stream-restarted, and notices a stall', async () => {
    let srv = await startRtspServer({ fps: 10, size: '320x180', user: 'admin', pass: SECRET });
    const { log, lines } = captureLog();
    const cam = source({ url: `rtsp://admin:${SECRET}@127.0.0.1:${srv.port}/live`, log, stallMs: 1_500 });
    try {
      cam.s.start(new AbortController().signal);
      await until('the first frame', () => cam.frames.length > 0, 15_000);

      await srv.stop();
      await until('stream-failed', () => cam.of('stream-failed').length === 1, 10_000);
      expect(cam.of('stream-failed')[0]).toMatchObject({ camera: 'cam-1', reason: 'exited' });
      await until('a failed restart attempt', () => cam.s.stats().failures >= 2, 10_000);

      srv = await startRtspServer({ port: srv.port, fps: 10, size: '320x180', user: 'admin', pass: SECRET });
      const before = cam.frames.length;
      await until('stream-restarted', () => cam.of('stream-restarted').length === 1, 20_000);
      await until('frames again', () => cam.frames.length >= before + 3, 10_000);
      const restarted = cam.of('stream-restarted')[0]!;
      expect(restarted).toMatchObject({ type: 'stream-restarted', camera: 'cam-1' });
      expect(restarted.type === 'stream-restarted' && restarted.attempts).toBeGreaterThanOrEqual(2);
      expect(cam.of('stream-failed')).toHaveLength(1); // one outage, one event, however many attempts

      srv.pause();
      await until('a stall to be noticed', () => cam.of('stream-failed').length === 2, 10_000);
      expect(cam.of('stream-failed')[1]).toMatchObject({ reason: 'stalled' });
      await cam.s.stop();
      expect(cam.s.stats().pid).toBeUndefined();
      expect(JSON.stringify(cam.events) + lines.join('')).not.toContain(SECRET);
    } finally {
      await cam.s.stop();
      await srv.stop();
    }
  });

  it('never puts the credentials of the URL in events or logs', async () => {
    const port = await freePort();
    const { log, lines } = captureLog();
    const cam = source({ url: `rtsp://admin:${SECRET}@127.0.0.1:${port}/live`, log });
    cam.s.start(new AbortController().signal);
    await until('stream-failed', () => cam.of('stream-failed').length === 1, 10_000);
    await until('two more attempts', () => cam.s.stats().failures >= 3, 10_000);
    await cam.s.stop();
    const failed = cam.of('stream-failed')[0]!;
    expect(failed.type === 'stream-failed' && failed.stderrTail.join('\n')).toContain(`rtsp://***@127.0.0.1:${port}/live`);
    expect(cam.events).toHaveLength(1);
    const everything = JSON.stringify(cam.events) + lines.join('');
    expect(everything).toContain('restart attempt failed');
    expect(everything).not.toContain(SECRET);
  });

  it('kills an ffmpeg that ignores SIGTERM after the grace time', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fake-ffmpeg-'));
    const fake = join(dir, 'ffmpeg');
    await writeFile(fake, '#!/bin/sh\ntrap "" TERM\nwhile :; do sleep 0.05; done\n');
    await chmod(fake, 0o755);
    const cam = source({ url: 'rtsp://127.0.0.1:9/live', ffmpegPath: fake, killGraceMs: 300 });
    cam.s.start(new AbortController().signal);
    await until('the process', () => cam.s.stats().pid !== undefined, 5_000);
    const pid = cam.s.stats().pid!;
    await sleep(100);
    const t0 = Date.now();
    await cam.s.stop();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(alive(pid)).toBe(false);
    await rm(dir, { recursive: true, force: true });
  });

  it('reports a missing ffmpeg as stream-failed and keeps retrying without throwing', async () => {
    const cam = source({ url: 'rtsp://127.0.0.1:9/live', ffmpegPath: '/nonexistent/ffmpeg' });
    cam.s.start(new AbortController().signal);
    await until('two attempts', () => cam.s.stats().failures >= 2, 5_000);
    await cam.s.stop();
    expect(cam.events).toHaveLength(1);
    expect(cam.events[0]).toMatchObject({ type: 'stream-failed', reason: 'spawn-failed', exitCode: null });
    expect(cam.events[0]!.type === 'stream-failed' && cam.events[0]!.stderrTail.join('')).toContain('ENOENT');
  });
});
