import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import WebSocket from 'ws';
import { buildServer } from '../../agent/http/build-server.js';
import { createLiveView, type LiveView, type LiveViewDeps } from '../../agent/live/live-view.js';
import type { Role } from '../../agent/config/schema.js';
import { createLogger } from '../../agent/log.js';
import { createCameraSimulator, type CameraSimulator } from '../fixtures/camera-simulator/index.js';
import { makeAgentEnv, type AgentEnv } from '../helpers/agent-env.js';
export { waitFor } from '../helpers/wait-for.js';

/**
 * A real agent (temp dir, manual clock, one token per role) with live view, served on a real
 * loopback socket, relaying the camera simulator's RTSP stream through a real ffmpeg.
 */
export const CAM = 'cam-north-gate';
/** Face recognition without an impact assessment: the gate refuses it whatever the notice. */
export const FACE_CAM = 'cam-east-lobby';
export const CAM_USER = 'viewer';
export const CAM_PASS = 'pw-Secret-4242';

export async function startSimulator(): Promise<CameraSimulator> {
  const sim = createCameraSimulator({
    id: CAM, manufacturer: 'Acme', model: 'S1', serial: 'SN1', firmware: '1.0',
    username: CAM_USER, password: CAM_PASS, rtsp: true, discovery: false,
  });
  await sim.start();
  return sim;
}

/** The simulator's stream with its credentials in the URL, as createAgent resolves it. */
export function streamUrlOf(sim: CameraSimulator): string {
  const u = new URL(sim.rtspUrl!);
  u.username = CAM_USER;
  u.password = CAM_PASS;
  return u.toString();
}

export interface LiveEnv {
  env: AgentEnv;
  live: LiveView;
  app: FastifyInstance;
  base: string;
  wsBase: string;
  logLines: string[];
  /** A ticket for `camera` as `role`: the raw reply. */
  ask(role: Role | null, camera?: string): Promise<{ status: number; body: Record<string, unknown> }>;
  /** A ticket the security role gets for CAM. */
  ticket(camera?: string): Promise<{ ticket: string; url: string; notice: string; expiresAt: string }>;
  liveAudit(): { action: string; actor: string; object: string | null; decision: string | null; rule: string | null; detail: Record<string, unknown> }[];
  close(): Promise<void>;
}

export async function makeLiveEnv(streamUrl: (cameraId: string) => Promise<string>, over: Partial<LiveViewDeps> = {}): Promise<LiveEnv> {
  const env = makeAgentEnv();
  const logLines: string[] = [];
  const log = createLogger('debug', new Writable({ write(chunk, _enc, cb) { logLines.push(String(chunk)); cb(); } }));
  const s = env.services;
  const live = createLiveView({
    cameras: s.config.cameras,
    gate: (id) => s.capture.gate(id),
    notices: s.notices,
    resolveStreamUrl: streamUrl,
    audit: s.audit,
    clock: s.clock,
    ids: s.ids,
    log,
    ...over,
  });
  const app = buildServer({ services: s, log, live });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  const base = address;
  const wsBase = address.replace(/^http/, 'ws');

  async function ask(role: Role | null, camera = CAM) {
    const r = await fetch(`${base}/v1/cameras/${encodeURIComponent(camera)}/live`, {
      method: 'POST',
      headers: role === null ? {} : { authorization: `Bearer ${env.tokens[role]}` },
    });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  }

  return {
    env,
    live,
    app,
    base,
    wsBase,
    logLines,
    ask,
    async ticket(camera = CAM) {
      const r = await ask('security', camera);
      if (r.status !== 201) throw new Error(`ticket refused: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body as { ticket: string; url: string; notice: string; expiresAt: string };
    },
    liveAudit: () =>
      s.audit
        .tail(10_000)
        .filter((a) => a.action.startsWith('live.'))
        .map((a) => ({ action: a.action, actor: a.actor, object: a.object, decision: a.decision, rule: a.rule, detail: JSON.parse(a.detail ?? '{}') as Record<string, unknown> })),
    async close() {
      await app.close().catch(() => undefined);
      await live.stop();
      env.cleanup();
    },
  };
}

export interface Viewer {
  ws: WebSocket;
  messages: Buffer[];
  /** Set when the socket closed: code, reason and performance.now() at that moment. */
  closed: { code: number; reason: string; at: number } | undefined;
  /** The refusal status when the upgrade was answered with HTTP. */
  refused: number | undefined;
  whenClosed: Promise<{ code: number; reason: string; at: number }>;
  bytes(): number;
}

export function watch(url: string, options: WebSocket.ClientOptions = {}): Viewer {
  const ws = new WebSocket(url, options);
  const v: Viewer = {
    ws,
    messages: [],
    closed: undefined,
    refused: undefined,
    whenClosed: new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        v.closed = { code, reason: reason.toString('utf8'), at: performance.now() };
        resolve(v.closed);
      });
    }),
    bytes: () => v.messages.reduce((n, m) => n + m.length, 0),
  };
  ws.on('message', (data: Buffer) => v.messages.push(data));
  ws.on('unexpected-response', (_req, res) => {
    v.refused = res.statusCode;
    res.resume();
    ws.terminate();
  });
  ws.on('error', () => undefined);
  return v;
}

/** Whether a process is still there (signal 0 only asks). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The data after the jsmp header, as one buffer. */
export function streamBody(v: Viewer): Buffer {
  return Buffer.concat(v.messages.slice(1));
}

/** Enough MPEG-TS (sync byte every 188 bytes) has arrived. */
export function hasTsPackets(v: Viewer, packets = 5): boolean {
  const body = streamBody(v);
  if (body.length < 188 * packets) return false;
  for (let i = 0; i < packets; i += 1) if (body[i * 188] !== 0x47) return false;
  return true;
}
