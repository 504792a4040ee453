import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { createCameraSupervisor, type CameraSupervisor, type OnvifSettings } from '../../agent/cameras/camera-supervisor.js';
import { createInventoryStore } from '../../agent/cameras/inventory-store.js';
import { connectCamera, toOnvif } from '../../agent/cameras/onvif-camera.js';
import type { CameraConfig } from '../../agent/config/schema.js';
import { createLogger, silentLogger, type Logger } from '../../agent/log.js';
import { createCameraSimulator, type CameraSimulator, type SimulatorOptions } from '../fixtures/camera-simulator/index.js';
import { waitFor } from '../helpers/wait-for.js';
import { makeAgentEnv, verifiedNotice, type AgentEnv, type CameraInput } from '../helpers/agent-env.js';

const USER = 'operator';
const PASS = 'correct horse 42';
const CAM = 'cam-north-gate';
const SETTINGS: OnvifSettings = { timeoutMs: 1000, refreshMinutes: 60, healthSeconds: 0.2, driftThresholdSeconds: 5 };
const FAST_BACKOFF = { initialMs: 100, maxMs: 300, factor: 2 };
/** Bottom-right quarter: the simulator draws a white circle there. */
const MASK = { name: 'neighbour-window', points: [[0.5, 0.5], [1, 0.5], [1, 1], [0.5, 1]] as [number, number][] };

const sims: CameraSimulator[] = [];
const supervisors: CameraSupervisor[] = [];
let env: AgentEnv | undefined;

afterEach(async () => {
  await Promise.all(supervisors.splice(0).map((s) => s.stop()));
  await Promise.all(sims.splice(0).map((s) => s.stop()));
  env?.cleanup();
  env = undefined;
});

async function simulator(over: Partial<SimulatorOptions> = {}): Promise<CameraSimulator> {
  const sim = createCameraSimulator({ id: CAM, manufacturer: 'Acme', model: 'S1', serial: 'SN1', firmware: '1.0', username: USER, password: PASS, discovery: false, ...over });
  await sim.start();
  sims.push(sim);
  return sim;
}

interface Setup {
  env: AgentEnv;
  sup: CameraSupervisor;
  maskedCalls: boolean[];
  logLines: string[];
}

/** A real agent whose one camera is the simulator; the supervisor is built as agent.ts would build it. */
function setup(sim: CameraSimulator, o: {
  camera?: Partial<CameraInput>;
  settings?: Partial<OnvifSettings>;
  password?: string | null;
  log?: 'silent' | 'capture';
} = {}): Setup {
  env = makeAgentEnv({
    cameras: [{
      id: CAM, location: 'North gate', locationClass: 'entrance',
      onvif: { url: sim.deviceUrl, username: USER, passwordFile: '/nonexistent/replaced-below' },
      source: { mode: 'snapshot', intervalSeconds: 0.2 },
      ...o.camera,
    }],
  });
  const configured = env.services.config.cameras[0]!;
  const passwordFile = join(env.dir, 'cam.password');
  if (o.password !== null) writeFileSync(passwordFile, `${o.password ?? PASS}\n`, { mode: 0o600 });
  const camera: CameraConfig = { ...configured, ...(configured.onvif ? { onvif: { ...configured.onvif, passwordFile } } : {}) };
  const logLines: string[] = [];
  const log: Logger = o.log === 'capture'
    ? createLogger('trace', new Writable({ write(chunk, _enc, cb) { logLines.push(String(chunk)); cb(); } }))
    : silentLogger;
  const maskedCalls: boolean[] = [];
  const { services } = env;
  const sup = createCameraSupervisor({
    camera,
    onvif: { ...SETTINGS, ...o.settings },
    capture: {
      gate: (id) => services.capture.gate(id),
      ingest: (id, bytes, opts) => services.capture.ingest(id, bytes, opts),
      setMaskedByCamera: (id, byCamera) => {
        maskedCalls.push(byCamera);
        services.capture.setMaskedByCamera(id, byCamera);
      },
    },
    inventoryStore: createInventoryStore({ db: services.db }),
    audit: services.audit,
    outbox: services.outbox,
    db: services.db,
    clock: services.clock,
    log,
    backoff: FAST_BACKOFF,
  });
  supervisors.push(sup);
  return { env, sup, maskedCalls, logLines };
}

const health = (e: AgentEnv, event?: string) =>
  e.services.audit.tail(10_000).filter((a) => a.object === `camera:${CAM}` && (event === undefined || a.action === `camera.${event}`));
const healthEvents = (e: AgentEnv, event?: string) =>
  e.services.outbox.pending(10_000).filter((x) => x.kind === 'camera-health' && (event === undefined || x.body['event'] === event));


describe('camera supervisor', () => {
  it('pulls no frame while no notice covers the camera, then polls snapshots into the capture path', async () => {
    const sim = await simulator();
    const { env: e, sup } = setup(sim);
    sup.start(new AbortController().signal);
    await waitFor('online', () => sup.status().online);
    await waitFor('capture paused', () => health(e, 'capture-paused').length === 1);
    expect(healthEvents(e, 'capture-paused')[0]!.body).toEqual({ camera: CAM, event: 'capture-paused', reason: 'no-notice' });
    await new Promise((r) => setTimeout(r, 600));
    // No notice, no capture: the camera was not even asked for a frame.
    expect(sim.stats.snapshots).toBe(0);
    expect(sup.status()).toMatchObject({ capturing: false, frames: { sent: 0 } });
    expect(e.services.images.count()).toBe(0);
    expect(health(e, 'online')).toHaveLength(1);
    expect(healthEvents(e, 'online')[0]!.body).toEqual({ camera: CAM, event: 'online' });

    await verifiedNotice(e.services, [CAM]);
    await waitFor('capture resumed', () => health(e, 'capture-resumed').length === 1);
    const t0 = performance.now();
    const sent0 = sup.status().frames.sent;
    await waitFor('stored frames', () => sup.status().frames.stored >= 5);
    const perFrameMs = (performance.now() - t0) / (sup.status().frames.sent - sent0);
    const s = sup.status();
    expect(s.capturing).toBe(true);
    expect(e.services.images.list({ camera: CAM }).length).toBe(s.frames.stored);
    expect(s.frames.rejected).toBe(0);
    // Every answer ends stored, blocked or rejected (one may still be in the capture path).
    expect(s.frames.sent - (s.frames.stored + s.frames.blocked + s.frames.rejected)).toBeLessThanOrEqual(1);
    expect(s.inventory?.snapshotUri).toBe(`${sim.snapshotUrl}?profile=Profile_1`);
    expect(s.inventory?.deviceInformation.serial).toBe('SN1');
    // Snapshot polling at 0.2 s: one frame per interval, polls never overlapping.
    expect(perFrameMs).toBeGreaterThan(150);
    console.info(`snapshot poll: ${perFrameMs.toFixed(0)} ms per frame at a 200 ms interval; sim served ${sim.stats.snapshots}, supervisor saw ${s.frames.sent}`);
  });

  it('counts an HTML error page and a truncated JPEG as rejected and keeps polling', async () => {
    const sim = await simulator();
    const { env: e, sup } = setup(sim);
    await verifiedNotice(e.services, [CAM]);
    sup.start(new AbortController().signal);
    await waitFor('a stored frame', () => sup.status().frames.stored >= 1);

    sim.setSnapshotFault('html-error');
    const r0 = sup.status().frames.rejected;
    await waitFor('HTML answers rejected', () => sup.status().frames.rejected >= r0 + 2);
    sim.setSnapshotFault('truncated');
    const r1 = sup.status().frames.rejected;
    await waitFor('truncated JPEGs rejected', () => sup.status().frames.rejected >= r1 + 2);
    expect(Object.keys(e.services.capture.counters().rejected).length).toBeGreaterThan(0);
    const stored = sup.status().frames.stored;
    sim.setSnapshotFault('none');
    await waitFor('frames stored again', () => sup.status().frames.stored >= stored + 2);
    expect(sup.status().online).toBe(true);
    expect(health(e, 'offline')).toHaveLength(0);
    expect(e.services.images.count()).toBe(sup.status().frames.stored);
  });

  it('reports a dead camera offline once and online again when it comes back', async () => {
    const sim = await simulator();
    const port = Number(new URL(sim.deviceUrl).port);
    const { env: e, sup } = setup(sim);
    await verifiedNotice(e.services, [CAM]);
    sup.start(new AbortController().signal);
    await waitFor('online', () => health(e, 'online').length === 1);

    await sim.stop();
    await waitFor('offline', () => health(e, 'offline').length >= 1);
    // Many failed polls later, still one offline event.
    await new Promise((r) => setTimeout(r, 1200));
    expect(health(e, 'offline')).toHaveLength(1);
    expect(healthEvents(e, 'offline')).toHaveLength(1);
    expect(healthEvents(e, 'offline')[0]!.body).toEqual({ camera: CAM, event: 'offline', reason: 'unreachable' });
    expect(sup.status()).toMatchObject({ online: false, lastError: { reason: 'unreachable', code: 'camera.unreachable' } });
    expect(createInventoryStore({ db: e.services.db }).get(CAM)).toMatchObject({ online: false });

    await simulator({ port });
    await waitFor('online again', () => health(e, 'online').length === 2);
    expect(health(e).map((a) => a.action).filter((a) => a === 'camera.online' || a === 'camera.offline')).toEqual(['camera.online', 'camera.offline', 'camera.online']);
    expect(healthEvents(e, 'online')).toHaveLength(2);
    expect(createInventoryStore({ db: e.services.db }).get(CAM)).toMatchObject({ online: true, lastError: null });
    const sent = sup.status().frames.sent;
    await waitFor('polling again', () => sup.status().frames.sent >= sent + 2);
  });

  it('raises clock drift beyond the threshold as a camera-health event', async () => {
    const sim = await simulator({ clockSkewSeconds: 120 });
    const { env: e, sup } = setup(sim, { camera: { source: { mode: 'push' }, push: { tokenSha256: 'a'.repeat(64) } } });
    sup.start(new AbortController().signal);
    await waitFor('clock drift', () => health(e, 'clock-drift').length === 1);
    const body = healthEvents(e, 'clock-drift')[0]!.body;
    expect(body['camera']).toBe(CAM);
    expect(Math.abs((body['driftMs'] as number) - 120_000)).toBeLessThan(2000);
    expect(JSON.parse(health(e, 'clock-drift')[0]!.detail!)).toMatchObject({ event: 'clock-drift' });
    await waitFor('online', () => sup.status().online);
  });

  it('pushes the masks to a Media2 camera, verifies them, and restores them within a health ping when someone deletes them', async () => {
    const sim = await simulator({ supportsMasks: true });
    // Refreshes an hour apart: the removal must be noticed by the health ping in between.
    const { env: e, sup, maskedCalls } = setup(sim, { camera: { privacyMasks: [MASK] }, settings: { refreshMinutes: 60, healthSeconds: 0.2 } });
    sup.start(new AbortController().signal);
    await waitFor('masks applied', () => health(e, 'masks-applied').length === 1);
    expect(sup.status().maskedByCamera).toBe(true);
    expect(maskedCalls.at(-1)).toBe(true);
    const onCamera = sim.masks();
    expect(onCamera).toHaveLength(1);
    expect(onCamera[0]!.enabled).toBe(true);
    expect(onCamera[0]!.polygon.map((p) => [p.x, p.y])).toEqual(MASK.points.map(([x, y]) => toOnvif(x, y)));
    await waitFor('inventory saved', () => createInventoryStore({ db: e.services.db }).get(CAM)?.inventory?.masking === 'camera');

    // Someone removes the masks on the camera, through ONVIF, behind the agent's back.
    const intruder = await connectCamera({ url: sim.deviceUrl, username: USER, password: PASS, timeoutMs: 1000 });
    await intruder.setMasks([]);
    intruder.close();
    expect(sim.masks()).toHaveLength(0);
    const calls = maskedCalls.length;
    await waitFor('masks restored', () => health(e, 'masks-restored').length === 1);
    expect(sim.masks()).toHaveLength(1);
    // Between noticing and restoring, the agent burnt the masks in itself.
    expect(maskedCalls.slice(calls)).toEqual([false, true]);
    expect(healthEvents(e, 'masks-restored')[0]!.body).toEqual({ camera: CAM, event: 'masks-restored' });
    expect(sup.status().maskedByCamera).toBe(true);
  });

  it('burns the masks in when the camera cannot mask: a stored frame is black in the masked region', async () => {
    const sim = await simulator({ supportsMasks: false });
    const { env: e, sup, maskedCalls } = setup(sim, { camera: { privacyMasks: [MASK] } });
    await verifiedNotice(e.services, [CAM]);
    sup.start(new AbortController().signal);
    await waitFor('a stored frame', () => sup.status().frames.stored >= 1);
    await waitFor('inventory', () => sup.status().inventory);
    expect(sup.status().inventory?.masking).toBe('agent');
    expect(maskedCalls).not.toContain(true);
    expect(health(e, 'masks-applied')).toHaveLength(0);

    const record = e.services.images.list({ camera: CAM })[0]!;
    const jpeg = e.services.blobs.read(record.blobFile);
    const { data, info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
    const mean = (x0: number, y0: number, x1: number, y1: number): number => {
      let sum = 0;
      let n = 0;
      for (let y = Math.floor(y0 * info.height); y < Math.floor(y1 * info.height); y++) {
        for (let x = Math.floor(x0 * info.width); x < Math.floor(x1 * info.width); x++) {
          for (let c = 0; c < info.channels; c++) sum += data[(y * info.width + x) * info.channels + c]!;
          n += info.channels;
        }
      }
      return sum / n;
    };
    expect(mean(0.52, 0.52, 0.98, 0.98)).toBeLessThan(8);
    expect(mean(0.02, 0.55, 0.45, 0.95)).toBeGreaterThan(30);
  });

  it('reports a wrong password as offline with reason auth, and the password appears in no audit entry and no log line', async () => {
    const wrong = 'wrong-horse-battery-9731';
    const sim = await simulator();
    const { env: e, sup, logLines } = setup(sim, { password: wrong, log: 'capture' });
    sup.start(new AbortController().signal);
    await waitFor('offline', () => health(e, 'offline').length === 1);
    expect(healthEvents(e, 'offline')[0]!.body).toEqual({ camera: CAM, event: 'offline', reason: 'auth' });
    await new Promise((r) => setTimeout(r, 500)); // retries with backoff, still one event
    expect(health(e, 'offline')).toHaveLength(1);
    expect(sup.status().frames.sent).toBe(0);
    const everything = [
      ...e.services.audit.tail(10_000).map((a) => JSON.stringify(a)),
      ...e.services.outbox.pending(10_000).map((x) => JSON.stringify(x)),
      ...logLines,
      JSON.stringify(sup.status()),
    ].join('\n');
    expect(logLines.length).toBeGreaterThan(0);
    expect(everything).not.toContain(wrong);
    expect(everything).not.toContain(PASS);
  });

  it('goes offline, without crashing, when the password file is missing', async () => {
    const sim = await simulator();
    const { env: e, sup } = setup(sim, { password: null });
    sup.start(new AbortController().signal);
    await waitFor('offline', () => health(e, 'offline').length === 1);
    expect(healthEvents(e, 'offline')[0]!.body).toMatchObject({ event: 'offline', reason: 'password-file' });
    expect(sim.stats.soap).toBe(0);
    writeFileSync(join(e.dir, 'cam.password'), `${PASS}\n`);
    await waitFor('online once the file is there', () => health(e, 'online').length === 1);
  });

  it('stops within a second while a slow camera is mid-request', async () => {
    const sim = await simulator({ slowMs: 3000 });
    const { sup } = setup(sim, { camera: { source: { mode: 'snapshot', intervalSeconds: 0.2, snapshotUrl: sim.snapshotUrl } }, settings: { timeoutMs: 5000 } });
    sup.start(new AbortController().signal);
    await new Promise((r) => setTimeout(r, 300));
    const t0 = performance.now();
    await sup.stop();
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(sup.status().frames.sent).toBe(0);
  });

  it('gives no credentials to a snapshot URI the camera reports on another host, and says why it is offline', async () => {
    const sim = await simulator({ advertisedHost: '127.0.0.2' });
    const { env: e, sup } = setup(sim);
    await verifiedNotice(e.services, [CAM]);
    sup.start(new AbortController().signal);
    await waitFor('offline', () => health(e, 'offline').length === 1);
    expect(healthEvents(e, 'offline')[0]!.body).toEqual({ camera: CAM, event: 'offline', reason: 'foreign-host' });
    expect(sup.status().inventory?.snapshotUri).toMatch(/^http:\/\/127\.0\.0\.2:/);
    expect(sup.status().lastError?.message).toContain('source.snapshotUrl');
    expect(sup.status().frames.sent).toBe(0);
    expect(sim.stats.snapshots).toBe(0);
  });
});
