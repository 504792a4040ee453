import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createAgent, databaseFile } from '../../agent/agent.js';
import { createAuditLog } from '../../agent/audit/audit-log.js';
import { openDatabase } from '../../agent/store/open-database.js';
import { createCameraSimulator, type CameraSimulator, type SimulatorOptions } from '../fixtures/camera-simulator/index.js';
import { waitFor } from '../helpers/wait-for.js';
import { makeAgentEnv, verifiedNotice, type AgentEnv, type CameraInput } from '../helpers/agent-env.js';

/**
 * The running agent with simulated cameras: `createAgent` builds one supervisor per camera and
 * the frames go through the one capture path. The clock ticks in real time (a notice is made to
 * expire while frames flow); the cameras, ffmpeg and the database are real.
 */
const USER = 'operator';
const PASS = 'pass word 7';

const sims: CameraSimulator[] = [];
const agents: { stop(): Promise<number> }[] = [];
let env: AgentEnv | undefined;
const cleanups: (() => void)[] = [];

afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
  await Promise.all(sims.splice(0).map((s) => s.stop()));
  env?.cleanup();
  env = undefined;
  for (const c of cleanups.splice(0)) c();
});

async function simulator(id: string, over: Partial<SimulatorOptions> = {}): Promise<CameraSimulator> {
  const sim = createCameraSimulator({ id, manufacturer: 'Acme', model: 'S1', serial: `SN-${id}`, firmware: '1.0', username: USER, password: PASS, discovery: false, ...over });
  await sim.start();
  sims.push(sim);
  return sim;
}

/** The cameras' password file sits in a folder of its own, made before the config that names it. */
function agentEnv(cameras: CameraInput[]): AgentEnv {
  const secrets = mkdtempSync(join(tmpdir(), 'camwarden-secrets-'));
  cleanups.push(() => rmSync(secrets, { recursive: true, force: true }));
  const passwordFile = join(secrets, 'cam.password');
  writeFileSync(passwordFile, `${PASS}\n`, { mode: 0o600 });
  env = makeAgentEnv({ cameras: cameras.map((c) => (c.onvif ? { ...c, onvif: { ...c.onvif, passwordFile } } : c)), clock: 'ticking' });
  return env;
}

async function startAgent(e: AgentEnv) {
  const agent = createAgent(e.services);
  agents.push(agent);
  await agent.start(new AbortController().signal);
  return agent;
}

const actions = (e: AgentEnv, camera: string) => e.services.audit.tail(10_000).filter((a) => a.object === `camera:${camera}`).map((a) => a.action);


/** ffmpeg processes whose command line mentions `needle` (the camera's RTSP host:port). */
function ffmpegsFor(needle: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.endsWith('ffmpeg') && argv.some((a) => a.includes(needle))) pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

describe('agent with cameras', () => {
  it('captures RTSP frames while the notice is current, and stops at its expiry: nothing captured after it is stored', async () => {
    const sim = await simulator('cam-rtsp', { rtsp: true });
    const e = agentEnv([{
      id: 'cam-rtsp', location: 'North gate', locationClass: 'entrance',
      onvif: { url: sim.deviceUrl, username: USER, passwordFile: '/replaced' },
      source: { mode: 'rtsp', fps: 5 },
    }]);
    const noticeId = await verifiedNotice(e.services, ['cam-rtsp']);
    const expiresAt = Date.parse(e.services.notices.get(noticeId).expiresAt!);
    // Four seconds of coverage left: frames start flowing, then the notice runs out.
    e.clock.set(new Date(expiresAt - 4000));

    const agent = await startAgent(e);
    const sup = agent.cameras()[0]!;
    await waitFor('stored RTSP frames', () => e.services.images.count() >= 3);
    const rtspPort = new URL(sim.rtspUrl!).port;
    expect(ffmpegsFor(`127.0.0.1:${rtspPort}`)).toHaveLength(1);
    await waitFor('the notice to expire', () => e.clock.now().getTime() > expiresAt + 1500, 10_000);
    const storedAtExpiry = e.services.images.count();
    await new Promise((r) => setTimeout(r, 600));

    const images = e.services.images.list({ camera: 'cam-rtsp' });
    expect(images.length).toBe(storedAtExpiry);
    // Nothing captured at or after the expiry was stored ...
    for (const img of images) expect(Date.parse(img.capturedAt)).toBeLessThan(expiresAt);
    // ... and frames were being captured right up to it: the gate, not a slow source, stopped them.
    const last = Math.max(...images.map((i) => Date.parse(i.capturedAt)));
    expect(expiresAt - last).toBeLessThan(1000);
    // Within a second the camera is no longer even asked for frames: ffmpeg is stopped.
    const paused = e.services.audit.tail(10_000).find((a) => a.action === 'camera.capture-paused' && a.object === 'camera:cam-rtsp');
    expect(paused).toBeDefined();
    const pausedAfterMs = Date.parse(paused!.ts) - expiresAt;
    expect(pausedAfterMs).toBeGreaterThanOrEqual(0);
    expect(pausedAfterMs).toBeLessThan(1000);
    expect(JSON.parse(paused!.detail!)).toMatchObject({ reason: 'no-notice' });
    expect(sup.status().capturing).toBe(false);
    const sent = sup.status().frames.sent;
    await new Promise((r) => setTimeout(r, 500));
    expect(sup.status().frames.sent).toBe(sent);
    // Not just no frames: no ffmpeg is reading the camera's stream any more.
    await waitFor('ffmpeg gone', () => ffmpegsFor(`127.0.0.1:${rtspPort}`).length === 0, 3000);
    expect(actions(e, 'cam-rtsp')).toContain('camera.online');
    console.info(`rtsp at 5 fps: ${images.length} stored before expiry, last ${expiresAt - last} ms before it; capture paused ${pausedAfterMs} ms after it`);
  }, 40_000);

  it('polls snapshots into the store, reports a dying RTSP stream, and stops pulling frames within a second of the withdrawal', async () => {
    const snap = await simulator('cam-snap');
    const live = await simulator('cam-live', { rtsp: true });
    const e = agentEnv([
      { id: 'cam-snap', location: 'Lobby', locationClass: 'lobby', onvif: { url: snap.deviceUrl, username: USER, passwordFile: '/replaced' }, source: { mode: 'snapshot', intervalSeconds: 0.25 } },
      { id: 'cam-live', location: 'Gate', locationClass: 'entrance', onvif: { url: live.deviceUrl, username: USER, passwordFile: '/replaced' }, source: { mode: 'rtsp', fps: 2 } },
      { id: 'cam-off', location: 'Side door', locationClass: 'entrance', enabled: false, onvif: { url: 'http://127.0.0.1:9/onvif/device_service', username: USER, passwordFile: '/replaced' }, source: { mode: 'snapshot', intervalSeconds: 1 } },
    ]);
    const noticeId = await verifiedNotice(e.services, ['cam-snap', 'cam-live']);
    const agent = await startAgent(e);
    // A disabled camera gets no supervisor: nothing is asked of it.
    expect(agent.cameras().map((s) => s.name)).toEqual(['camera:cam-snap', 'camera:cam-live']);

    await waitFor('snapshots stored', () => e.services.images.list({ camera: 'cam-snap' }).length >= 3);
    await waitFor('rtsp frames stored', () => e.services.images.list({ camera: 'cam-live' }).length >= 1);
    expect(e.services.inventory.get('cam-snap')).toMatchObject({ online: true, inventory: { deviceInformation: { serial: 'SN-cam-snap' }, masking: 'none' } });
    // The operator sees the same through the API; a kiosk does not.
    const api = async (token: string, path = '/v1/cameras') => fetch(`${agent.address()}${path}`, { headers: { authorization: `Bearer ${token}` } });
    expect((await api(e.tokens.kiosk)).status).toBe(403);
    const listed = (await (await api(e.tokens.operator)).json()) as Record<string, unknown>[];
    expect(listed.map((c) => c['id'])).toEqual(['cam-snap', 'cam-live', 'cam-off']);
    expect(listed[0]).toMatchObject({ supervised: true, online: true, capturing: true, capture: { allowed: true, notice: noticeId }, masking: 'none', inventory: { deviceInformation: { serial: 'SN-cam-snap' } } });
    expect((listed[0]!['frames'] as { stored: number }).stored).toBeGreaterThanOrEqual(3);
    expect(listed[2]).toMatchObject({ enabled: false, supervised: false, capturing: null, capture: { allowed: false, reason: 'camera-disabled' } });
    expect((await api(e.tokens.auditor, '/v1/cameras/cam-live')).status).toBe(200);
    expect((await api(e.tokens.auditor, '/v1/cameras/nope')).status).toBe(404);

    live.killStream();
    await waitFor('stream-failed event', () => actions(e, 'cam-live').includes('camera.stream-failed'));
    await live.restartStream();
    await waitFor('stream-restarted event', () => actions(e, 'cam-live').includes('camera.stream-restarted'), 20_000);
    const outbox = e.services.outbox.pending(10_000).filter((x) => x.kind === 'camera-health' && x.body['camera'] === 'cam-live').map((x) => x.body['event']);
    expect(outbox).toEqual(expect.arrayContaining(['online', 'stream-failed', 'stream-restarted']));

    e.services.notices.withdraw(noticeId, 'sign taken down', 'operator-test');
    const withdrawnAt = e.clock.now().getTime();
    await waitFor('capture paused on both cameras', () => agent.cameras().every((c) => !c.status().capturing), 1000);
    // A request already on its way when capture paused may still bring a frame (the gate refuses it).
    await new Promise((r) => setTimeout(r, 400));
    const sentAtPause = agent.cameras().map((c) => c.status().frames.sent);
    await new Promise((r) => setTimeout(r, 800));
    expect(e.services.images.list({}).filter((i) => Date.parse(i.capturedAt) >= withdrawnAt)).toEqual([]);
    expect(agent.cameras().map((c) => c.status().frames.sent)).toEqual(sentAtPause);
    expect(actions(e, 'cam-snap')).toContain('camera.capture-paused');
    expect(actions(e, 'cam-off')).toEqual([]);
  }, 60_000);

  it('stays responsive while a camera answers slowly: the API answers while the camera keeps it waiting', async () => {
    const slow = await simulator('cam-slow', { slowMs: 4000 });
    const e = agentEnv([
      { id: 'cam-slow', location: 'Car park', locationClass: 'street', onvif: { url: slow.deviceUrl, username: USER, passwordFile: '/replaced' }, source: { mode: 'snapshot', intervalSeconds: 1 } },
    ]);
    await verifiedNotice(e.services, ['cam-slow']);
    const agent = await startAgent(e);
    // The supervisor has asked the camera (it answers only after 4 s).
    await new Promise((r) => setTimeout(r, 300));
    const t0 = performance.now();
    const res = await fetch(`${agent.address()}/v1/health`);
    const ms = performance.now() - t0;
    expect(res.status).toBe(200);
    // Answered while the camera still keeps the agent waiting on its first request.
    expect(agent.cameras()[0]!.status().online).toBe(false);
    expect(agent.cameras()[0]!.status().inventory).toBeUndefined();
    console.info(`/v1/health answered in ${ms.toFixed(1)} ms while the camera's first answer was still ${4000} ms away`);
  }, 30_000);

  it('shows a camera live to the security role (stream URI and credentials from the inventory), never one whose masks only burn-in applies', async () => {
    const sim = await simulator('cam-view', { rtsp: true, supportsMasks: true });
    const plain = await simulator('cam-plain', { rtsp: true, supportsMasks: false });
    const mask = { name: 'neighbour-window', points: [[0.6, 0.1], [0.9, 0.1], [0.9, 0.4], [0.6, 0.4]] as [number, number][] };
    const e = agentEnv([
      { id: 'cam-view', location: 'Gate', locationClass: 'entrance', onvif: { url: sim.deviceUrl, username: USER, passwordFile: '/replaced' }, source: { mode: 'push' }, push: { tokenSha256: 'b'.repeat(64) }, privacyMasks: [mask] },
      { id: 'cam-plain', location: 'Yard', locationClass: 'entrance', onvif: { url: plain.deviceUrl, username: USER, passwordFile: '/replaced' }, source: { mode: 'push' }, push: { tokenSha256: 'c'.repeat(64) }, privacyMasks: [mask] },
    ]);
    await verifiedNotice(e.services, ['cam-view', 'cam-plain']);
    const agent = await startAgent(e);
    await waitFor('masks applied by the camera', () => e.services.inventory.get('cam-view')?.inventory?.masking === 'camera');
    await waitFor('inventory of the camera that cannot mask', () => e.services.inventory.get('cam-plain')?.inventory?.masking === 'agent');
    // Burn-in masks stored frames only: a camera that cannot mask itself is not shown live.
    const refused = await fetch(`${agent.address()}/v1/cameras/cam-plain/live`, { method: 'POST', headers: { authorization: `Bearer ${e.tokens.security}` } });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ code: 'capture.blocked' });
    const ask = await fetch(`${agent.address()}/v1/cameras/cam-view/live`, { method: 'POST', headers: { authorization: `Bearer ${e.tokens.security}` } });
    expect(ask.status).toBe(201);
    const { url } = (await ask.json()) as { url: string };
    const ws = new WebSocket(new URL(url, agent.address()!.replace(/^http/, 'ws')));
    const chunks: Buffer[] = [];
    ws.on('message', (d: Buffer) => chunks.push(d));
    await waitFor('MPEG-TS from the camera', () => chunks.length > 1 && chunks.slice(1).some((c) => c[0] === 0x47), 20_000);
    expect(chunks[0]!.subarray(0, 4).toString()).toBe('jsmp');
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    const stopping = agent.stop();
    expect(await closed).toBe(1001);
    await stopping;
    agents.splice(agents.indexOf(agent), 1);
    // The agent closed its database on the way out: read what it wrote.
    const db = openDatabase(databaseFile(e.services.config), { readonly: true });
    try {
      const audit = createAuditLog({ db, clock: e.clock }).tail(100);
      const end = audit.find((a) => a.action === 'live.end');
      expect(JSON.parse(end!.detail!)).toMatchObject({ reason: 'agent-stopping' });
      expect(JSON.stringify(audit)).not.toContain(PASS);
    } finally {
      db.close();
    }
  }, 40_000);

  it('gives ffmpeg no credentials for a stream the camera reports on another host, and says so', async () => {
    const sim = await simulator('cam-nat', { rtsp: true, advertisedHost: '127.0.0.2' });
    const e = agentEnv([
      { id: 'cam-nat', location: 'Gate', locationClass: 'entrance', onvif: { url: sim.deviceUrl, username: USER, passwordFile: '/replaced' }, source: { mode: 'rtsp', fps: 2 } },
    ]);
    await verifiedNotice(e.services, ['cam-nat']);
    const agent = await startAgent(e);
    await waitFor('stream-failed', () => actions(e, 'cam-nat').includes('camera.stream-failed'));
    const failed = e.services.audit.tail(100).find((a) => a.action === 'camera.stream-failed')!;
    expect(JSON.parse(failed.detail!)).toMatchObject({ reason: 'foreign-host' });
    expect(agent.cameras()[0]!.status().lastError).toMatchObject({ reason: 'foreign-host' });
    expect(ffmpegsFor('127.0.0.2')).toEqual([]);
    await new Promise((r) => setTimeout(r, 300));
    expect(actions(e, 'cam-nat').filter((a) => a === 'camera.stream-failed')).toHaveLength(1);
  }, 30_000);
});
