import { join } from 'node:path';
import { createPiaRegister, type PiaRegister } from './assessments/pia-register.js';
import { createAuditLog, type AuditLog } from './audit/audit-log.js';
import { createCameraSupervisor, type CameraSupervisor } from './cameras/camera-supervisor.js';
import { createInventoryStore, type InventoryStore } from './cameras/inventory-store.js';
import { configuredMasks } from './cameras/privacy-mask.js';
import { createRtspFrameSource } from './cameras/rtsp-frames.js';
import { cameraStreamUrl } from './cameras/stream-url.js';
import { createCaptureService, type CaptureService } from './capture/capture-service.js';
import { createImageRecords, type ImageRecords } from './capture/image-records.js';
import { createViolationReporter, type ViolationReporter } from './capture/violation-reporter.js';
import { randomIds, systemClock, type Clock, type Ids } from './clock.js';
import { loadConfig, type LoadedConfig } from './config/load-config.js';
import type { AgentConfig } from './config/schema.js';
import type { JurisdictionProfile } from './config/jurisdictions.js';
import { CamwardenError } from './errors.js';
import { buildServer } from './http/build-server.js';
import { loadKeys, type AgentKeys } from './keys/agent-keys.js';
import { createLifecycle, type Lifecycle, type Service } from './lifecycle.js';
import { createLiveView, type LiveView } from './live/live-view.js';
import { createLogger, type Logger } from './log.js';
import { createNoticeRegister, type NoticeRegister } from './notices/notice-register.js';
import { createOutbox, type Outbox } from './reporting/outbox.js';
import { createPurgeService, type PurgeService } from './retention/purge-service.js';
import { createBlobStore, type BlobStore } from './store/blob-store.js';
import { startCheckpointer, type Checkpointer } from './store/checkpointer.js';
import { openDatabase, type Db } from './store/open-database.js';
import { reconcileStore } from './store/reconcile.js';

/**
 * The composition root: every service of the agent, built in dependency order. The CLI and
 * `camwarden run` share it, so a command and an HTTP route call the same functions.
 */
export interface AgentServices {
  loaded: LoadedConfig;
  config: AgentConfig;
  profile: JurisdictionProfile;
  keys: AgentKeys;
  db: Db;
  blobs: BlobStore;
  audit: AuditLog;
  outbox: Outbox;
  notices: NoticeRegister;
  pias: PiaRegister;
  images: ImageRecords;
  violations: ViolationReporter;
  capture: CaptureService;
  purge: PurgeService;
  inventory: InventoryStore;
  clock: Clock;
  ids: Ids;
  log: Logger;
  close(): void;
}

export interface BuildOptions {
  configPath: string;
  clock?: Clock;
  ids?: Ids;
  log?: Logger;
  env?: NodeJS.ProcessEnv;
}

export function databaseFile(config: AgentConfig): string {
  return join(config.agent.dataDir, 'camwarden.db');
}

export function buildServices(opts: BuildOptions): AgentServices {
  const loaded = loadConfig(opts.configPath);
  const { config, profile } = loaded;
  const clock = opts.clock ?? systemClock;
  const ids = opts.ids ?? randomIds;
  const log = opts.log ?? createLogger(config.agent.logLevel);
  const keys = loadKeys(config.agent.keysDir, opts.env);
  const db = openDatabase(databaseFile(config));
  try {
    const blobs = createBlobStore({ dir: join(config.agent.dataDir, 'blobs'), key: keys.dataKey });
    const audit = createAuditLog({ db, clock });
    const outbox = createOutbox({ db, keys, agentId: config.agent.id, clock, ids });
    const cameraIds = config.cameras.map((c) => c.id);
    const notices = createNoticeRegister({
      db,
      audit,
      outbox,
      blobs,
      clock,
      ids,
      reverifyDays: profile.parameters.noticeReverifyDays,
      knownCameras: () => cameraIds,
    });
    const pias = createPiaRegister({
      db,
      audit,
      outbox,
      clock,
      ids,
      retentionYears: profile.parameters.piaRetentionYears,
      reviewMonths: profile.parameters.piaReviewMonths,
      knownCameras: () => cameraIds,
    });
    const images = createImageRecords({ db });
    const violations = createViolationReporter({ db, audit, outbox, clock, windowMs: config.capture.blockedReportSeconds * 1000 });
    const capture = createCaptureService({
      db,
      settings: {
        agentId: config.agent.id,
        siteId: config.site.id,
        handler: config.site.operator.name,
        retentionDays: config.capture.retentionDays,
        limits: { maxBytes: config.capture.maxBytes, maxWidth: config.capture.maxWidth, maxHeight: config.capture.maxHeight },
        cameras: config.cameras,
        rules: { forbiddenLocationClasses: profile.parameters.forbiddenLocationClasses, citations: profile.citations },
        legalBasis: profile.citations.purposeLimitation,
        masks: new Map(config.cameras.flatMap((c) => (c.privacyMasks ? [[c.id, configuredMasks(c)] as const] : []))),
      },
      keys,
      blobs,
      images,
      notices,
      pias,
      audit,
      outbox,
      violations,
      clock,
      ids,
      log: log.child({ component: 'capture' }),
    });
    const purge = createPurgeService({ db, images, blobs, pias, audit, outbox, clock });
    const inventory = createInventoryStore({ db });
    return {
      loaded,
      config,
      profile,
      keys,
      db,
      blobs,
      audit,
      outbox,
      notices,
      pias,
      images,
      violations,
      capture,
      purge,
      inventory,
      clock,
      ids,
      log,
      close: () => {
        blobs.close();
        if (db.open) db.close();
      },
    };
  } catch (error) {
    db.close();
    throw error;
  }
}

/** A task on a timer; `atStart` also runs it once when the agent starts. */
function every(name: string, ms: number, task: () => void, log: Logger, { atStart = false } = {}): Service {
  let timer: NodeJS.Timeout | undefined;
  const run = () => {
    try {
      task();
    } catch (error) {
      log.error({ task: name, err: error }, 'scheduled task failed');
    }
  };
  return {
    name,
    start() {
      // A box that restarts more often than the interval must still purge (Shenzhen Art. 25).
      if (atStart) run();
      timer = setInterval(run, ms);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
    },
  };
}

/**
 * One supervisor per enabled camera the agent fetches frames from or talks ONVIF to. Cameras that
 * only push frames (`source.mode: push`, no onvif) need none. A disabled camera is left alone:
 * nothing is asked of it, and the capture path refuses its frames anyway.
 */
export function createCameraSupervisors(s: AgentServices): CameraSupervisor[] {
  const cameras = s.config.cameras.filter((c) => c.enabled && (c.onvif !== undefined || c.source?.mode === 'snapshot' || c.source?.mode === 'rtsp'));
  // Starts spread evenly over up to a second: frames then arrive spread over each interval rather
  // than in one burst, which is what the capture path's tail latency and memory peak follow.
  const spreadMs = Math.min(1000, 50 * cameras.length);
  return cameras.map((camera, i) =>
    createCameraSupervisor({
      camera,
      startDelayMs: cameras.length > 1 ? Math.round((i * spreadMs) / cameras.length) : 0,
      onvif: s.config.onvif,
      capture: s.capture,
      inventoryStore: s.inventory,
      audit: s.audit,
      outbox: s.outbox,
      db: s.db,
      clock: s.clock,
      log: s.log.child({ component: 'cameras' }),
      frameSource: (o) =>
        createRtspFrameSource({ ...o, transport: 'tcp', clock: s.clock, log: s.log.child({ component: 'rtsp', camera: o.cameraId }) }),
    }),
  );
}

/** Live view (security role only) of any camera the capture gate would capture from now. */
export function createAgentLiveView(s: AgentServices): LiveView {
  return createLiveView({
    cameras: s.config.cameras,
    gate: (id) => {
      const g = s.capture.gate(id);
      if (!g.allow) return g;
      // Burn-in masks only stored frames; a live picture is masked only where the camera masks itself.
      const masked = (s.config.cameras.find((c) => c.id === id)?.privacyMasks?.length ?? 0) > 0;
      if (masked && !s.capture.isMaskedByCamera(id)) {
        return {
          allow: false,
          reason: 'masks-not-applied',
          rule: 'live.privacy-masks',
          citation: s.profile.citations['privateSpace'] ?? 'Face Recognition Measures Art. 13',
          message: `camera ${id} does not apply its privacy masks itself, so live view would show what they hide`,
        };
      }
      return g;
    },
    notices: s.notices,
    resolveStreamUrl: (id) => {
      const camera = s.config.cameras.find((c) => c.id === id);
      if (camera === undefined) return Promise.reject(new CamwardenError('not-found', `camera ${id} is not in the config`, { field: 'id' }));
      return cameraStreamUrl(camera, s.inventory);
    },
    audit: s.audit,
    clock: s.clock,
    ids: s.ids,
    log: s.log.child({ component: 'live' }),
  });
}

/** The running agent: services in start order; stop walks them in reverse. */
export function createAgent(s: AgentServices): Lifecycle & { address(): string | undefined; cameras(): CameraSupervisor[] } {
  const log = s.log;
  let address: string | undefined;
  const supervisors = createCameraSupervisors(s);
  const live = createAgentLiveView(s);
  const byCamera = new Map(supervisors.map((sup) => [sup.cameraId, sup]));
  const server = buildServer({ services: s, log: log.child({ component: 'http' }), live, cameraStatus: (id) => byCamera.get(id)?.status() });
  let checkpointer: Checkpointer | undefined;
  const services: Service[] = [
    {
      name: 'store',
      start() {
        const r = reconcileStore(s);
        log.info({ ...r, rowsWithoutFile: r.rowsWithoutFile.length }, 'store reconciled');
      },
      stop() {
        s.close();
      },
    },
    {
      // Stopped after every writer, just before the store closes.
      name: 'checkpoints',
      start() {
        checkpointer = startCheckpointer({ db: s.db, file: databaseFile(s.config), log: log.child({ component: 'store' }) });
      },
      stop: () => checkpointer?.stop(),
    },
    {
      name: 'capture',
      start() {},
      stop: () => s.capture.drain(),
    },
    {
      // After the capture path (frames need it), stopped before it drains.
      name: 'cameras',
      start(signal) {
        for (const sup of supervisors) {
          // One camera that cannot start (say, a damaged inventory row) must not keep the others from it.
          try {
            sup.start(signal);
          } catch (error) {
            log.error({ camera: sup.name, err: error }, 'camera supervisor failed to start');
          }
        }
        if (supervisors.length > 0) log.info({ cameras: supervisors.map((c) => c.name) }, 'cameras supervised');
      },
      async stop() {
        await Promise.all(supervisors.map((sup) => sup.stop()));
      },
    },
    every('violation-flush', 5_000, () => s.violations.flush(), log),
    every(
      'retention',
      s.config.retention.purgeEveryMinutes * 60_000,
      () => {
        const r = s.purge.purge();
        if (r.images > 0 || r.assessments > 0) log.info(r, 'retention purge');
      },
      log,
      { atStart: true },
    ),
    {
      // Before http, so it stops after it: sessions cut by the server's close are still audited.
      name: 'live',
      start() {},
      stop: () => live.stop(),
    },
    {
      name: 'http',
      async start() {
        address = await server.listen({ host: s.config.http.host, port: s.config.http.port });
        log.info({ address }, 'http listening');
      },
      stop: () => server.close(),
    },
  ];
  const lifecycle = createLifecycle(services, log);
  return {
    ...lifecycle,
    address: () => address,
    cameras: () => supervisors,
  };
}
