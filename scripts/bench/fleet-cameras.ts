/**
 * The camera side of the fleet benchmark, in its own process so the simulators' CPU (sharp renders
 * every snapshot) is not counted as the agent's. Forked by fleet.ts with an IPC channel:
 *
 *   parent -> {type: 'start', count, rtsp}   child -> {type: 'ready', cameras}
 *   parent -> {type: 'report'}               child -> {type: 'report', ...}
 *   parent -> {type: 'stop'}                 child stops the simulators and exits
 *
 * Each snapshot that leaves a simulator is recorded with the SHA-256 of its bytes and the moment
 * the response was handed to the kernel ('finish'), so the parent can find the stored image row by
 * its original_sha256 and measure capture-to-stored latency from the camera's side. The hook is
 * node's http diagnostics channels, so the simulator itself is not changed for the benchmark.
 */
import { createHash } from 'node:crypto';
import { subscribe } from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { createCameraSimulator, type CameraSimulator } from '../../test/fixtures/camera-simulator/index.js';

export interface FleetCamera {
  id: string;
  deviceUrl: string;
  snapshotUrl: string;
  rtspUrl: string | undefined;
  username: string;
  password: string;
}

/** [camera index, SHA-256 hex of the bytes, wall-clock ms (fractional) when the last byte was handed to the kernel] */
export type SentFrame = [number, string, number];

export type ParentMessage = { type: 'start'; count: number; rtsp: boolean } | { type: 'report' } | { type: 'stop' };
export type ChildMessage =
  | { type: 'ready'; cameras: FleetCamera[] }
  | { type: 'report'; frames: SentFrame[]; snapshots: number[]; soap: number; authFailures: number; cpuMicros: number }
  | { type: 'error'; message: string };

const wallNow = (): number => performance.timeOrigin + performance.now();
const isJpeg = (b: unknown): b is Buffer => Buffer.isBuffer(b) && b.length > 2 && b[0] === 0xff && b[1] === 0xd8;

const sims: CameraSimulator[] = [];
const frames: SentFrame[] = [];
const portToCamera = new Map<number, number>();
const cpuAtStart = process.cpuUsage();

function send(m: ChildMessage): void {
  process.send?.(m);
}

// Wrap end() of every snapshot response to learn the bytes, and time 'finish'.
subscribe('http.server.request.start', (message) => {
  const { request, response } = message as { request: IncomingMessage; response: ServerResponse };
  if (!(request.url ?? '').startsWith('/onvif/snapshot.jpg')) return;
  const camera = portToCamera.get(request.socket.localPort ?? -1);
  if (camera === undefined) return;
  const end = response.end.bind(response) as (...a: unknown[]) => ServerResponse;
  (response as { end: (...a: unknown[]) => ServerResponse }).end = (...args: unknown[]) => {
    const body = args[0];
    if (response.statusCode === 200 && isJpeg(body)) {
      const sha = createHash('sha256').update(body).digest('hex');
      response.once('finish', () => frames.push([camera, sha, wallNow()]));
    }
    return end(...args);
  };
});

async function start(count: number, rtsp: boolean): Promise<void> {
  for (let i = 0; i < count; i++) {
    const n = String(i + 1).padStart(2, '0');
    sims.push(createCameraSimulator({
      id: `bench-cam-${n}`, manufacturer: 'Camwarden Sim', model: 'SIM-S1', serial: `BENCH${n}`, firmware: '1.0.0',
      username: 'admin', password: `bench-pass-${n}-${Math.random().toString(36).slice(2, 10)}`,
      rtsp, discovery: false, location: `bench/${n}`,
    }));
  }
  await Promise.all(sims.map((s) => s.start()));
  sims.forEach((s, i) => portToCamera.set(Number(new URL(s.deviceUrl).port), i));
  send({
    type: 'ready',
    cameras: sims.map((s) => ({ id: s.info.id, deviceUrl: s.deviceUrl, snapshotUrl: s.snapshotUrl, rtspUrl: s.rtspUrl, username: s.info.username, password: s.info.password })),
  });
}

let stopping = false;
async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    await Promise.race([Promise.allSettled(sims.map((s) => s.stop())), new Promise((r) => setTimeout(r, 10_000))]);
  }
  process.exit(code);
}

process.on('message', (raw) => {
  const m = raw as ParentMessage;
  if (m.type === 'start') {
    start(m.count, m.rtsp).catch((e: unknown) => {
      send({ type: 'error', message: e instanceof Error ? e.message : String(e) });
      void stop(1);
    });
  } else if (m.type === 'report') {
    const cpu = process.cpuUsage(cpuAtStart);
    send({
      type: 'report', frames,
      snapshots: sims.map((s) => s.stats.snapshots),
      soap: sims.reduce((n, s) => n + s.stats.soap, 0),
      authFailures: sims.reduce((n, s) => n + s.stats.authFailures, 0),
      cpuMicros: cpu.user + cpu.system,
    });
  } else if (m.type === 'stop') {
    void stop(0);
  }
});
// The benchmark died or closed the channel: no simulator (nor its ffmpeg encoder) outlives it.
process.on('disconnect', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
process.on('SIGINT', () => void stop(0));
