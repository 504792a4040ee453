import type { AuditLog } from '../audit/audit-log.js';
import type { CaptureService, IngestResult } from '../capture/capture-service.js';
import type { Clock } from '../clock.js';
import type { AgentConfig, CameraConfig } from '../config/schema.js';
import { CamwardenError, isCamwardenError } from '../errors.js';
import type { Service } from '../lifecycle.js';
import type { Logger } from '../log.js';
import type { Outbox } from '../reporting/outbox.js';
import type { Db } from '../store/open-database.js';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
import { describeCamera, type CameraInventory } from './camera-inventory.js';
import type { InventoryStore } from './inventory-store.js';
import { CameraError, connectCamera, sameMasks, type OnvifCamera } from './onvif-camera.js';
import { readPasswordFile } from './password-file.js';
import { resolveOnvifHost, trustedCameraUri, withCredentials } from './stream-url.js';
import { configuredMasks } from './privacy-mask.js';
import { fetchSnapshot, type Challenge } from './snapshot-client.js';

/**
 * One configured camera, kept connected: ONVIF inventory and its refresh, privacy masks pushed to
 * the camera and checked, clock drift, and frames from snapshot polling (or an RTSP frame source)
 * handed to the one capture path, which alone decides whether a frame may be stored.
 *
 * Health is reported on transitions only: an audit entry and a `camera-health` outbox event in one
 * transaction. A failing camera never throws out of here; it goes offline and is retried with backoff.
 */
export type OnvifSettings = Pick<AgentConfig['onvif'], 'timeoutMs' | 'refreshMinutes' | 'healthSeconds' | 'driftThresholdSeconds'>;

export type HealthEvent =
  | 'online'
  | 'offline'
  | 'clock-drift'
  | 'clock-ok'
  | 'masks-applied'
  | 'masks-restored'
  | 'masks-failed'
  | 'stream-failed'
  | 'stream-restarted'
  | 'capture-paused'
  | 'capture-resumed';

/** What the supervisor needs of a frame source (agent/cameras/rtsp-frames.ts fits it). */
export type FrameSourceEvent = { type: 'stream-failed'; reason: string } | { type: 'stream-restarted' };
export type FrameSourceFactory = (o: {
  cameraId: string;
  /** RTSP URL with the camera's credentials in it, as ffmpeg takes it; never log it. */
  url: string;
  fps: number;
  onFrame: (jpeg: Buffer) => Promise<unknown>;
  onEvent: (e: FrameSourceEvent) => void;
}) => Service;

export interface CameraSupervisorDeps {
  camera: CameraConfig;
  onvif: OnvifSettings;
  capture: Pick<CaptureService, 'ingest' | 'setMaskedByCamera' | 'gate'>;
  inventoryStore: InventoryStore;
  audit: AuditLog;
  outbox: Outbox;
  db: Db;
  clock: Clock;
  log: Logger;
  connect?: typeof connectCamera;
  snapshot?: typeof fetchSnapshot;
  frameSource?: FrameSourceFactory;
  /** Retries of a camera that does not answer; default 1 s doubling to 60 s. */
  backoff?: BackoffPolicy;
  /**
   * Wait this long before the first request: the agent spreads its cameras' starts so 32 cameras do
   * not connect, and then poll, in the same instant. Default 0.
   */
  startDelayMs?: number;
  /** How often the capture gate is asked whether frames may be pulled at all; default 250 ms. */
  gateIntervalMs?: number;
  /** Consecutive failed snapshot polls before the camera counts as offline; default 3. */
  offlineAfterFailures?: number;
  random?: () => number;
}

export interface FrameCounts {
  /** Answers from the camera; each one ends stored, blocked or rejected. */
  sent: number;
  stored: number;
  blocked: number;
  rejected: number;
}

export interface CameraStatus {
  online: boolean;
  /** Frames are pulled only while the capture gate would store them (a current notice, ...). */
  capturing: boolean;
  inventory?: CameraInventory;
  lastError?: { reason: string; code: string; message: string; at: string };
  maskedByCamera: boolean;
  frames: FrameCounts;
}

export interface CameraSupervisor extends Service {
  cameraId: string;
  status(): CameraStatus;
  /** Reads the inventory now (connecting when needed), checks masks and drift, stores it. */
  refresh(): Promise<CameraInventory>;
}

type Channel = 'onvif' | 'snapshot';
type ChannelState = { ok: true } | { ok: false; reason: string; code: string; message: string } | undefined;

export function createCameraSupervisor(d: CameraSupervisorDeps): CameraSupervisor {
  const { camera, clock } = d;
  const id = camera.id;
  const connect = d.connect ?? connectCamera;
  const snapshot = d.snapshot ?? fetchSnapshot;
  const policy = d.backoff ?? DEFAULT_BACKOFF;
  const random = d.random ?? Math.random;
  const offlineAfter = d.offlineAfterFailures ?? 3;
  const log = d.log.child({ camera: id });
  const wantedMasks = configuredMasks(camera);

  const frames: FrameCounts = { sent: 0, stored: 0, blocked: 0, rejected: 0 };
  const channels = new Map<Channel, ChannelState>();
  const challenges = new Map<string, Challenge>();
  let online: boolean | null = null;
  let lastError: CameraStatus['lastError'];
  let inventory: CameraInventory | undefined;
  let session: OnvifCamera | undefined;
  let password: string | undefined;
  let maskedByCamera = false;
  let masksEverVerified = false;
  let masksFailing = false;
  let drifting = false;
  let controller = new AbortController();
  let loops: Promise<void>[] = [];
  let source: Service | undefined;
  let sourceStopping: Promise<void> | undefined;
  /** The URL the running source was given (a secret); compared after each refresh. */
  let sourceUrl: string | undefined;
  let sourceFailing = false;
  /** What the ONVIF host name resolved to at the last refresh: URIs naming these addresses are the camera's. */
  let onvifAddresses: string[] = [];
  /** Takes the running source's abort listener off the camera's signal. */
  let unlinkSource: (() => void) | undefined;

  /** The RTSP URL ffmpeg should be given now (credentials in it), or undefined while unknown. */
  function wantedStreamUrl(): string | undefined {
    if (camera.source?.mode !== 'rtsp') return undefined;
    if (camera.source.rtspUrl === undefined && inventory !== undefined && inventory.streamUri === null) {
      throw new CameraError('protocol', 'the camera offers no usable RTSP stream URI: set source.rtspUrl', { details: { reason: 'no-stream-uri' } });
    }
    const raw = camera.source.rtspUrl ?? (inventory?.streamUri == null ? undefined : trustedCameraUri(inventory.streamUri, camera.onvif?.url, 'source.rtspUrl', onvifAddresses));
    return raw === undefined ? undefined : withCredentials(raw, camera.onvif?.username, password);
  }
  /** The capture gate's last answer; null before the first. */
  let gateOpen: boolean | null = null;
  let sourceSignal: AbortSignal | undefined;
  let lock: Promise<unknown> = Promise.resolve();

  /** Audit entry, outbox event and stored state in one transaction. */
  const report = d.db.transaction((event: HealthEvent, extra: { reason?: string; driftMs?: number; code?: string; message?: string }) => {
    const body: Record<string, unknown> = { camera: id, event };
    if (extra.reason !== undefined) body['reason'] = extra.reason;
    if (extra.driftMs !== undefined) body['driftMs'] = extra.driftMs;
    d.audit.append({ actor: 'agent', action: `camera.${event}`, object: `camera:${id}`, decision: 'done', detail: { ...body, ...(extra.code ? { code: extra.code } : {}), ...(extra.message ? { message: extra.message } : {}) } });
    d.outbox.add('camera-health', body);
    if (event === 'online') d.inventoryStore.setOnline(id, true);
    if (event === 'offline') d.inventoryStore.setOnline(id, false, `${extra.code}: ${extra.message}`);
  });

  function emit(event: HealthEvent, extra: { reason?: string; driftMs?: number; code?: string; message?: string } = {}): void {
    try {
      report.immediate(event, extra);
    } catch (error) {
      log.error({ event, err: error }, 'cannot record a camera health event');
    }
    log.info({ event, reason: extra.reason, driftMs: extra.driftMs }, `camera ${event}`);
  }

  /** Online when every channel in use works; offline as soon as one fails. Events on change only. */
  /** `null`: the channel is not in use now (snapshots while capture is paused). */
  function setChannel(channel: Channel, state: ChannelState | null): void {
    if (state === null) channels.delete(channel);
    else channels.set(channel, state);
    const states = [...channels.values()];
    const failed = states.find((s): s is Extract<ChannelState, { ok: false }> => s !== undefined && !s.ok);
    if (failed !== undefined) {
      lastError = { reason: failed.reason, code: failed.code, message: failed.message, at: clock.now().toISOString() };
      if (online !== false) {
        online = false;
        emit('offline', { reason: failed.reason, code: failed.code, message: failed.message });
      }
    } else if (states.length > 0 && states.every((s) => s?.ok === true) && online !== true) {
      online = true;
      emit('online');
    }
  }

  function failure(error: unknown): Extract<ChannelState, { ok: false }> {
    const message = redact(error instanceof Error ? error.message : String(error));
    if (error instanceof CameraError) return { ok: false, reason: error.kind, code: error.code, message };
    if (isCamwardenError(error)) {
      const reason = (error.details as { reason?: unknown } | undefined)?.reason;
      return { ok: false, reason: typeof reason === 'string' ? reason : error.code, code: error.code, message };
    }
    return { ok: false, reason: 'internal', code: 'internal', message };
  }

  /** Every password this camera was tried with, raw and as it appears in a URL. */
  const secrets = new Set<string>();
  function redact(text: string): string {
    let out = text;
    for (const secret of secrets) out = out.split(secret).join('***');
    return out;
  }

  async function loadPassword(): Promise<string | undefined> {
    if (camera.onvif === undefined) return undefined;
    if (password === undefined) {
      password = await readPasswordFile(camera.onvif.passwordFile, `cameras.${id}.onvif.passwordFile`);
      secrets.add(password);
      secrets.add(encodeURIComponent(password));
    }
    return password;
  }

  function exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = lock.then(task, task);
    lock = run.catch(() => undefined);
    return run;
  }

  function dropSession(): void {
    session?.close();
    session = undefined;
    // Nobody knows what the camera masks while we cannot ask it: the agent burns the masks in.
    setMasked(false);
  }

  function setMasked(byCamera: boolean): void {
    maskedByCamera = byCamera;
    d.capture.setMaskedByCamera(id, byCamera);
  }

  /** Connect when needed, describe, check masks and drift, store the inventory. */
  async function cycle(signal: AbortSignal): Promise<CameraInventory> {
    const onvif = camera.onvif;
    if (onvif === undefined) throw new CamwardenError('conflict', `camera ${id} has no onvif section`);
    try {
      if (session === undefined) {
        const pw = (await loadPassword())!;
        session = await connect({ url: onvif.url, username: onvif.username, password: pw, timeoutMs: d.onvif.timeoutMs, signal });
      }
      const cam = session;
      onvifAddresses = await resolveOnvifHost(onvif.url);
      const inv = await describeCamera(cam, clock.now());
      await checkMasks(cam);
      inv.masking = wantedMasks.length === 0 ? 'none' : maskedByCamera ? 'camera' : 'agent';
      checkDrift(inv.clockDriftMs);
      inventory = inv;
      d.inventoryStore.save(id, inv);
      return inv;
    } catch (error) {
      if (error instanceof CameraError && error.kind === 'auth') password = undefined; // the file may have been fixed
      dropSession();
      throw error;
    }
  }

  async function checkMasks(cam: OnvifCamera): Promise<void> {
    if (wantedMasks.length === 0 || !cam.supportsMasks()) {
      setMasked(false);
      return;
    }
    const wasVerified = masksEverVerified;
    try {
      if (sameMasks(await cam.getMasks(), wantedMasks)) {
        // Already in place (after a reconnect, or set by an earlier run): nothing to push.
        if (!maskedByCamera) setMasked(true);
        const recovered = masksFailing;
        masksFailing = false;
        if (!masksEverVerified || recovered) emit(masksEverVerified ? 'masks-restored' : 'masks-applied');
        masksEverVerified = true;
        return;
      }
      // Until the camera proves it masks again, the agent burns the masks in (Measures Art. 13).
      setMasked(false);
      await cam.setMasks(wantedMasks);
      if (!sameMasks(await cam.getMasks(), wantedMasks)) throw new CameraError('protocol', 'the camera did not keep the privacy masks', { details: { reason: 'masks-not-kept' } });
    } catch (error) {
      setMasked(false);
      if (error instanceof CameraError && (error.kind === 'unreachable' || error.kind === 'timeout')) throw error;
      if (!masksFailing) {
        masksFailing = true;
        const f = failure(error);
        emit('masks-failed', { reason: f.reason, code: f.code, message: f.message });
      }
      return;
    }
    masksFailing = false;
    masksEverVerified = true;
    setMasked(true);
    emit(wasVerified ? 'masks-restored' : 'masks-applied');
  }

  async function ping(): Promise<void> {
    const cam = session;
    if (cam === undefined) throw new CameraError('unreachable', 'no ONVIF session', { details: { reason: 'no-session' } });
    try {
      checkDrift(await cam.clockDriftMs());
      // Masks removed in the camera's own web page are noticed at the next ping, not the next refresh.
      if (maskedByCamera || masksFailing) await checkMasks(cam);
    } catch (error) {
      dropSession();
      throw error;
    }
  }

  function checkDrift(driftMs: number): void {
    const over = Math.abs(driftMs) > d.onvif.driftThresholdSeconds * 1000;
    if (over !== drifting) emit(over ? 'clock-drift' : 'clock-ok', { driftMs });
    drifting = over;
  }

  async function onvifLoop(signal: AbortSignal): Promise<void> {
    await sleep(d.startDelayMs ?? 0, signal);
    for (let attempt = 0; !signal.aborted; ) {
      try {
        await exclusive(() => cycle(signal));
        attempt = 0;
        setChannel('onvif', { ok: true });
        restartFrameSourceIfChanged(signal);
        startFrameSource(signal);
        // Between full refreshes the camera is asked its time: liveness (snapshot polls pause while
        // no notice covers the camera) and clock drift, at a small fraction of a refresh's cost.
        const refreshAt = performance.now() + d.onvif.refreshMinutes * 60_000;
        for (;;) {
          const left = refreshAt - performance.now();
          await sleep(Math.min(d.onvif.healthSeconds * 1000, Math.max(0, left)), signal);
          if (signal.aborted || performance.now() >= refreshAt) break;
          await exclusive(() => ping());
        }
      } catch (error) {
        if (signal.aborted) return;
        const f = failure(error);
        log.warn({ reason: f.reason, code: f.code }, 'camera inventory failed');
        setChannel('onvif', f);
        await sleep(backoffDelay(attempt++, policy, random()), signal);
      }
    }
  }

  /** The URL to poll; undefined while the inventory is not read yet. Throws when there is none to trust. */
  function snapshotUrl(): string | undefined {
    if (camera.source?.mode !== 'snapshot') return undefined;
    if (camera.source.snapshotUrl !== undefined) return camera.source.snapshotUrl;
    if (inventory === undefined) return undefined;
    if (inventory.snapshotUri === null) {
      throw new CameraError('protocol', 'the camera offers no snapshot URI (optional in Profile S): set source.snapshotUrl, or use an rtsp source', { details: { reason: 'no-snapshot-uri' } });
    }
    return trustedCameraUri(inventory.snapshotUri, camera.onvif?.url, 'source.snapshotUrl', onvifAddresses);
  }

  async function snapshotLoop(signal: AbortSignal, intervalMs: number): Promise<void> {
    let failures = 0;
    await sleep(d.startDelayMs ?? 0, signal);
    while (!signal.aborted) {
      const started = performance.now();
      let delay = intervalMs;
      if (gateOpen === true) {
        try {
          const url = snapshotUrl(); // undefined until the inventory is read
          if (url !== undefined) {
            const pw = await loadPassword();
            const bytes = await snapshot(url, {
              ...(camera.onvif ? { username: camera.onvif.username, password: pw } : {}),
              timeoutMs: d.onvif.timeoutMs, signal, challenges,
            });
            failures = 0;
            // A poll that ended after capture paused says nothing the paused channel should keep.
            if (gateOpen === true) setChannel('snapshot', { ok: true });
            if (!(await ingest(bytes, 'snapshot'))) return;
          }
        } catch (error) {
          if (signal.aborted) return;
          if (gateOpen !== true) {
            // paused meanwhile: the failure says nothing the paused channel should keep
          } else if (isCamwardenError(error) && ['no-snapshot-uri', 'foreign-host', 'foreign-scheme'].includes(String((error.details as { reason?: unknown } | undefined)?.reason))) {
            // Nothing the camera can fix by answering again: the config must name the URL.
            setChannel('snapshot', failure(error));
          } else if (error instanceof CameraError && error.kind === 'protocol') {
            // The camera answered, with something that is not a frame: rejected, the camera stays online.
            frames.sent += 1;
            frames.rejected += 1;
            setChannel('snapshot', { ok: true });
            log.warn({ reason: (error.details as { reason?: string } | undefined)?.reason }, 'snapshot rejected');
          } else {
            failures += 1;
            const f = failure(error);
            if (failures >= offlineAfter || f.reason === 'password-file') setChannel('snapshot', f);
            if (failures >= offlineAfter) delay = Math.max(intervalMs, backoffDelay(failures - offlineAfter, policy, random()));
          }
        }
      }
      // Polls never overlap; a slow answer delays the next poll instead of stacking them.
      await sleep(Math.max(0, delay - (performance.now() - started)), signal);
    }
  }

  /** Hands a frame to the capture path; false once the capture path refuses frames (agent stopping). */
  async function ingest(bytes: Buffer, from: 'snapshot' | 'rtsp'): Promise<boolean> {
    frames.sent += 1;
    let result: IngestResult;
    try {
      result = await d.capture.ingest(id, bytes, { source: from });
    } catch (error) {
      frames.rejected += 1;
      if (isCamwardenError(error, 'conflict')) return false;
      log.error({ err: error }, 'frame ingest failed');
      return true;
    }
    if (result.status === 'stored') frames.stored += 1;
    else if (result.status === 'blocked') frames.blocked += 1;
    else frames.rejected += 1;
    return true;
  }

  function startFrameSource(signal: AbortSignal): void {
    sourceSignal = signal;
    if (source !== undefined || gateOpen !== true || signal.aborted || camera.source?.mode !== 'rtsp' || d.frameSource === undefined) return;
    if (camera.onvif !== undefined && channels.get('onvif')?.ok !== true) return;
    // One ffmpeg at a time: a camera may allow a single RTSP session, so the last one must be gone.
    if (sourceStopping !== undefined) {
      void sourceStopping.then(() => startFrameSource(signal));
      return;
    }
    const rtsp = camera.source;
    let url: string;
    let started: Service;
    // Each run of ffmpeg gets its own signal, dropped with it: no listener piles up on the camera's.
    const own = new AbortController();
    try {
      const wanted = wantedStreamUrl();
      if (wanted === undefined) return;
      url = wanted;
      started = d.frameSource({
        cameraId: id,
        url,
        fps: rtsp.fps,
        onFrame: (jpeg) => ingest(jpeg, 'rtsp'),
        onEvent: (e) => {
          if (e.type === 'stream-failed') emit('stream-failed', { reason: e.reason });
          else emit('stream-restarted');
        },
      });
    } catch (error) {
      const f = failure(error);
      lastError = { reason: f.reason, code: f.code, message: f.message, at: clock.now().toISOString() };
      if (!sourceFailing) emit('stream-failed', { reason: f.reason, code: f.code, message: f.message });
      sourceFailing = true;
      return;
    }
    if (sourceFailing) emit('stream-restarted');
    sourceFailing = false;
    const unlink = (): void => own.abort();
    signal.addEventListener('abort', unlink, { once: true });
    source = started;
    sourceUrl = url;
    unlinkSource = () => signal.removeEventListener('abort', unlink);
    const startFailed = (error: unknown): void => {
      log.error({ err: error instanceof Error ? redact(error.message) : 'unknown' }, 'frame source failed to start');
      if (source === started) source = undefined;
      emit('stream-failed', { reason: 'start-failed' });
    };
    try {
      Promise.resolve(started.start(own.signal)).catch(startFailed);
    } catch (error) {
      startFailed(error);
    }
  }

  function stopFrameSource(): Promise<void> {
    const s = source;
    source = undefined;
    sourceUrl = undefined;
    unlinkSource?.();
    unlinkSource = undefined;
    if (s === undefined) return sourceStopping ?? Promise.resolve();
    const stopping: Promise<void> = Promise.resolve()
      .then(() => s.stop())
      .catch((error: unknown) => log.error({ err: error }, 'frame source failed to stop'))
      .finally(() => {
        if (sourceStopping === stopping) sourceStopping = undefined;
      });
    sourceStopping = stopping;
    return stopping;
  }

  /** After a refresh: a stream URI or password that changed means a new ffmpeg. */
  function restartFrameSourceIfChanged(signal: AbortSignal): void {
    if (source === undefined) return;
    let url: string | undefined;
    try {
      url = wantedStreamUrl();
    } catch {
      url = undefined;
    }
    if (url === sourceUrl) return;
    void stopFrameSource();
    startFrameSource(signal);
  }

  /**
   * No notice, no capture: while the gate would refuse this camera's frames, none are pulled at all
   * (no snapshot request, no ffmpeg). A frame already under way is still decided by the gate itself.
   */
  function checkGate(signal: AbortSignal): void {
    const g = d.capture.gate(id);
    if (g.allow === gateOpen) return;
    const first = gateOpen === null;
    gateOpen = g.allow;
    if (g.allow) {
      if (!first) emit('capture-resumed');
      if (camera.source?.mode === 'snapshot' && !channels.has('snapshot')) channels.set('snapshot', undefined);
      startFrameSource(sourceSignal ?? signal);
    } else {
      emit('capture-paused', { reason: g.reason });
      // The camera is not asked for frames now, so their absence says nothing of its health.
      if (camera.source?.mode === 'snapshot') setChannel('snapshot', null);
      void stopFrameSource();
    }
  }

  async function gateLoop(signal: AbortSignal, everyMs: number): Promise<void> {
    // The spread start applies to the gate too: it is what starts an RTSP camera without ONVIF.
    await sleep(d.startDelayMs ?? 0, signal);
    while (!signal.aborted) {
      try {
        checkGate(signal);
      } catch (error) {
        log.error({ err: error }, 'capture gate check failed');
      }
      await sleep(everyMs, signal);
    }
  }

  return {
    name: `camera:${id}`,
    cameraId: id,
    start(signal) {
      controller = new AbortController();
      const inner = controller.signal;
      signal.addEventListener('abort', () => controller.abort(signal.reason), { once: true });
      const stored = d.inventoryStore.get(id);
      online = stored?.online ?? null;
      inventory = stored?.inventory ?? undefined;
      setMasked(false);
      loops = [];
      gateOpen = null;
      sourceSignal = inner;
      if (camera.source?.mode === 'snapshot' || camera.source?.mode === 'rtsp') {
        if ((d.startDelayMs ?? 0) === 0) checkGate(inner);
        loops.push(gateLoop(inner, d.gateIntervalMs ?? 250));
      }
      if (camera.onvif !== undefined) {
        channels.set('onvif', undefined);
        loops.push(onvifLoop(inner));
      }
      if (camera.source?.mode === 'snapshot') {
        loops.push(snapshotLoop(inner, camera.source.intervalSeconds * 1000));
      }
      if (camera.source?.mode === 'rtsp' && d.frameSource === undefined) log.warn('rtsp source configured but no frame source is wired; no frames');
      // Every loop catches its own failures; this only keeps a bug from becoming an unhandled rejection.
      loops = loops.map((p) => p.catch((error: unknown) => log.error({ err: error }, 'camera supervisor loop failed')));
    },
    async stop() {
      controller.abort(new CamwardenError('conflict', 'the camera supervisor is stopping'));
      session?.close();
      session = undefined;
      await Promise.allSettled([...loops, stopFrameSource()]);
    },
    status() {
      return {
        online: online === true,
        capturing: gateOpen === true,
        ...(inventory !== undefined ? { inventory: structuredClone(inventory) } : {}),
        ...(lastError !== undefined ? { lastError: { ...lastError } } : {}),
        maskedByCamera,
        frames: { ...frames },
      };
    },
    async refresh() {
      try {
        const inv = await exclusive(() => cycle(controller.signal));
        setChannel('onvif', { ok: true });
        return inv;
      } catch (error) {
        if (!controller.signal.aborted && camera.onvif !== undefined) setChannel('onvif', failure(error));
        throw error;
      }
    },
  };
}

/** Resolves after `ms` or at once when aborted; never rejects. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
