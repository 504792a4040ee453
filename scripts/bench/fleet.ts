import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import { buildServices } from '../../agent/agent.js';
import { initKeys } from '../../agent/keys/agent-keys.js';
import { silentLogger } from '../../agent/log.js';
import { renderSnapshot } from '../../test/fixtures/camera-simulator/snapshot.js';
import { makeAgentEnv, sampleNoticeContent, verifiedNotice } from '../../test/helpers/agent-env.js';
import type { FleetCamera } from './fleet-cameras.js';
import { agentArgv, buildAgent, killAll, startAgent, startCameras, stopAgent, unitNodeFlags, type Cleanup } from './fleet-processes.js';
import { CLK_TCK, MB, pct, procStatusKb, sample, sleep, wallNow, type Sample } from './proc-sampler.js';
import { time } from './stats.js';

/**
 * The fleet: N simulated ONVIF cameras (default 32) served HTTP-digest snapshots to the real agent
 * process (`camwarden run`, compiled as deployed) polling each at 1 frame/s for S seconds (default 60).
 *
 * - The cameras run in a child process of their own, the agent in another: /proc figures for the
 *   agent's pid are the agent's alone (ffmpeg children, for RTSP, are reported separately).
 * - Frames: every snapshot a simulator handed to the kernel is recorded with the SHA-256 of its bytes;
 *   a stored image row carries the SHA-256 of the camera's original bytes, so each frame is followed
 *   from the camera to its row. lost = sent - stored - blocked - rejected (blocked and rejected as the
 *   agent counted them in its audit log).
 * - Latency: from the simulator's 'finish' of the snapshot response (last byte handed to the kernel)
 *   to the timestamp the agent takes inside the transaction that commits the image row, its audit
 *   entry and its outbox event (the outbox envelope's ts, the last statement before COMMIT).
 * - RTSP frames are decoded and re-encoded by the agent's ffmpeg, so they cannot be matched to what a
 *   camera sent: that scenario reports frames stored against 1 fps and the gate -> commit latency only.
 * - Anchors, same run, same machine, same frames: the bare capture path in-process back-to-back
 *   (CPU per frame and latency: what the camera loop, HTTP digest polling, timers and logging add on
 *   top), and the same agent process with every camera disabled (idle RSS: what 32 cameras add).
 *
 * Options: --cameras N, --seconds S, --warmup W, --rtsp-cameras M (a second scenario: RTSP at 1 fps
 * through the agent's ffmpeg frame source, default 8; 0 skips it), --runner dist|tsx, --agent-flags
 * '--max-old-space-size=64' (node flags for the agent), --keep (keep the temp dir and the agent logs).
 */
export interface FleetOptions {
  cameras: number;
  seconds: number;
  warmup: number;
  rtspCameras: number;
  runner: 'dist' | 'tsx';
  /** Node flags for the agent process, e.g. '--max-old-space-size=64'; none by default, as the systemd unit. */
  agentFlags: string;
  keep: boolean;
}

export const FLEET_DEFAULTS: FleetOptions = { cameras: 32, seconds: 60, warmup: 5, rtspCameras: 8, runner: 'dist', agentFlags: unitNodeFlags(), keep: false };

const OPERATOR = '基准物业 Bench Property Co.';

// ---------------------------------------------------------------------------------------------
// the agent's files

function writeConfig(dir: string, name: string, cameras: FleetCamera[], mode: 'snapshot' | 'rtsp' | 'disabled'): string {
  const secrets = join(dir, 'secrets');
  mkdirSync(secrets, { recursive: true, mode: 0o700 });
  const config = {
    agent: { id: 'gw-bench-01', region: 'cn-gd', dataDir: join(dir, `${name}-data`), keysDir: join(dir, 'keys'), logLevel: 'info' },
    site: {
      id: 'bench-plaza', name: '基准广场 Bench Plaza', address: '深圳市福田区 Futian District, Shenzhen',
      operator: { name: OPERATOR, contact: '+86 755 0000 0000' }, jurisdiction: 'cn-shenzhen', rightsUrl: 'https://bench-plaza.example/privacy',
    },
    capture: { retentionDays: 30 },
    retention: { purgeEveryMinutes: 60 },
    cameras: cameras.map((c, i) => {
      const passwordFile = join(secrets, `${c.id}.pass`);
      writeFileSync(passwordFile, `${c.password}\n`, { mode: 0o600 });
      return {
        id: c.id, name: `Bench camera ${i + 1}`, location: `Bench plaza, pole ${i + 1}`, locationClass: 'square',
        enabled: mode !== 'disabled', faceRecognition: false,
        onvif: { url: c.deviceUrl, username: c.username, passwordFile },
        // The snapshot and stream URIs come from the camera's ONVIF media service, as in the field.
        source: mode === 'rtsp' ? { mode: 'rtsp', fps: 1 } : { mode: 'snapshot', intervalSeconds: 1 },
      };
    }),
    onvif: { timeoutMs: 5000, refreshMinutes: 15, driftThresholdSeconds: 5 },
    http: { host: '127.0.0.1', port: 0, tokens: [] },
  };
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, stringify(config));
  return file;
}

/** Registers and verifies one notice covering every camera, through the agent's own notice register. */
async function registerNotice(configPath: string, cameraIds: string[]): Promise<void> {
  const s = buildServices({ configPath, log: silentLogger, env: {} });
  try {
    await verifiedNotice(s, cameraIds, sampleNoticeContent({ handler: OPERATOR }));
  } finally {
    s.close();
  }
}

interface Stored { sha: string; camera: string; capturedAt: number; committedAt: number }

function readAgentDb(dataDir: string): { stored: Stored[]; blocked: number; rejected: number; online: number; offline: number } {
  const db = new Database(join(dataDir, 'camwarden.db'), { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare<[], { sha: string; camera: string; captured_at: string; committed: string }>(
      `SELECT i.original_sha256 AS sha, i.camera_id AS camera, i.captured_at, o.ts AS committed
       FROM images i JOIN outbox o ON o.kind = 'image-stored' AND json_extract(o.envelope, '$.body.image') = i.id`,
    ).all();
    const images = (db.prepare('SELECT count(*) AS n FROM images').get() as { n: number }).n;
    if (images !== rows.length) throw new Error(`${images} image rows but ${rows.length} image-stored events`);
    const sum = (action: string) => (db.prepare<[string], { n: number | null }>(
      "SELECT sum(coalesce(json_extract(detail, '$.count'), 1)) AS n FROM audit WHERE action = ?",
    ).get(action)?.n ?? 0);
    const count = (action: string) => (db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM audit WHERE action = ?').get(action)?.n ?? 0);
    return {
      stored: rows.map((r) => ({ sha: r.sha, camera: r.camera, capturedAt: Date.parse(r.captured_at), committedAt: Date.parse(r.committed) })),
      blocked: sum('capture-blocked'),
      rejected: sum('capture-rejected'),
      online: count('camera.online'),
      offline: count('camera.offline'),
    };
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------------------------------------
// anchors

interface CaptureAnchor { cpuMsPerFrame: number; p50: number; p99: number; perSecond: number; n: number; frameKiB: number }

/** The bare capture path, in this process, back-to-back, on frames from the simulator's own renderer. */
async function captureAnchor(n: number): Promise<CaptureAnchor> {
  const frames = await Promise.all(Array.from({ length: 32 }, (_, i) => renderSnapshot(`bench-cam-${String(i + 1).padStart(2, '0')}`, new Date(), i + 1)));
  const env = makeAgentEnv({ cameras: [{ id: 'cam-anchor', location: 'anchor', locationClass: 'square', faceRecognition: false }] });
  try {
    await verifiedNotice(env.services, ['cam-anchor']);
    for (let i = 0; i < 20; i++) await env.services.capture.ingest('cam-anchor', frames[i % frames.length]!, { source: 'bench' });
    const cpu0 = process.cpuUsage();
    const t = await time(n, async (i) => {
      const r = await env.services.capture.ingest('cam-anchor', frames[i % frames.length]!, { source: 'bench' });
      if (r.status !== 'stored') throw new Error(`anchor frame not stored: ${JSON.stringify(r)}`);
    }, 0);
    const cpu = process.cpuUsage(cpu0);
    return { cpuMsPerFrame: (cpu.user + cpu.system) / 1000 / n, p50: t.p50, p99: t.p99, perSecond: t.perSecond, n, frameKiB: frames.reduce((a, f) => a + f.length, 0) / frames.length / 1024 };
  } finally {
    env.cleanup();
  }
}

/** The same agent, same config, every camera disabled: its resident memory once started and settled. */
async function idleAnchor(dir: string, argvFor: (config: string) => string[], cameras: FleetCamera[], cleanup: Cleanup): Promise<{ rssMb: number; hwmMb: number; startMs: number }> {
  const config = writeConfig(dir, 'idle', cameras, 'disabled');
  const agent = await startAgent(argvFor(config), join(dir, 'idle-agent.log'), cleanup);
  await sleep(3000);
  const m = procStatusKb(agent.pid);
  await stopAgent(agent);
  if (!m) throw new Error('cannot read the idle agent\'s memory');
  return { rssMb: MB(m.rss), hwmMb: MB(m.hwm), startMs: agent.startMs };
}

// ---------------------------------------------------------------------------------------------
// one scenario

function quantile(sorted: number[], q: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');

interface ScenarioResult { lost: number; peakMb: number }

async function scenario(
  mode: 'snapshot' | 'rtsp', o: FleetOptions, count: number, dir: string, argvFor: (config: string) => string[],
  anchors: { capture: CaptureAnchor; idle: { rssMb: number; hwmMb: number; startMs: number } }, cleanup: Cleanup,
): Promise<ScenarioResult> {
  const loadBefore = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const sims = await startCameras(count, mode === 'rtsp', cleanup);
  const ids = sims.cameras.map((c) => c.id);
  const config = writeConfig(dir, mode, sims.cameras, mode);
  await registerNotice(config, ids);

  const agent = await startAgent(argvFor(config), join(dir, `${mode}-agent.log`), cleanup);
  const samples: Sample[] = [];
  const sampler = setInterval(() => {
    const s = sample(agent.pid, sims.proc.pid!);
    if (s) samples.push(s);
  }, 1000);
  const winStart = agent.readyAt + o.warmup * 1000;
  await sleep(winStart - wallNow());
  const s0 = sample(agent.pid, sims.proc.pid!);
  const startIndex = samples.length;
  await sleep(winStart + o.seconds * 1000 - wallNow());
  const s1 = sample(agent.pid, sims.proc.pid!);
  const inWindow = samples.slice(startIndex);
  clearInterval(sampler);
  if (!s0 || !s1) throw new Error('the agent exited during the measurement');
  const stopAt = wallNow();
  const stopped = await stopAgent(agent);
  const report = await sims.report();
  await sims.stop();
  const loadAfter = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

  const db = readAgentDb(join(dir, `${mode}-data`));
  const windowMs = s1.at - s0.at;
  const winEnd = winStart + o.seconds * 1000;

  // Frames, followed by hash from the camera to the row.
  const bySha = new Map(db.stored.map((r) => [r.sha, r]));
  const sent = report.frames;
  const sentShas = new Set(sent.map((f) => f[1]));
  const matched = sent.filter((f) => bySha.has(f[1]));
  const unmatched = sent.filter((f) => !bySha.has(f[1]));
  // A frame still on its way through the agent when SIGTERM came (the stop aborts the camera loops'
  // requests): counted apart from frames lost while the agent ran.
  const cutByShutdown = unmatched.filter((f) => f[2] >= stopAt - 1000).length;
  const unmatchedAt = unmatched.slice(0, 5).map((f) => `${f1(f[2] - stopAt)} ms`).join(', ');
  const strangers = db.stored.filter((r) => !sentShas.has(r.sha)).length;
  const requests = report.snapshots.reduce((a, b) => a + b, 0);
  const sentWin = sent.filter((f) => f[2] >= winStart && f[2] < winEnd);
  const storedWin = db.stored.filter((r) => r.capturedAt >= winStart && r.capturedAt < winEnd);
  const storedWinMatched = sentWin.filter((f) => bySha.has(f[1])).length;
  const lost = mode === 'snapshot' ? sent.length - matched.length - db.blocked - db.rejected : NaN;
  const lostRunning = mode === 'snapshot' ? lost - cutByShutdown : NaN;

  // Latencies: camera 'finish' -> commit timestamp; and inside the agent: gate entry -> commit.
  const e2e = sentWin.flatMap((f) => { const r = bySha.get(f[1]); return r ? [r.committedAt - f[2]] : []; }).sort((a, b) => a - b);
  const inAgent = storedWin.map((r) => r.committedAt - r.capturedAt).sort((a, b) => a - b);
  const toGate = sentWin.flatMap((f) => { const r = bySha.get(f[1]); return r ? [r.capturedAt - f[2]] : []; }).sort((a, b) => a - b);

  // How the polls fall in time: 32 loops started together stay in phase, and frames then arrive in bursts.
  const bins = new Map<number, number>();
  for (const f of sentWin) bins.set(Math.floor(f[2] / 100), (bins.get(Math.floor(f[2] / 100)) ?? 0) + 1);
  const busiest100 = Math.max(0, ...bins.values());

  // CPU and memory.
  const agentCpu = pct(s1.agentTicks - s0.agentTicks, windowMs);
  const childCpu = pct(s1.childTicks + s1.agentReaped - s0.childTicks - s0.agentReaped, windowMs);
  const perSecond = inWindow.slice(1).map((s, i) => pct(s.agentTicks - inWindow[i]!.agentTicks, s.at - inWindow[i]!.at));
  const perSecondTree = inWindow.slice(1).map((s, i) => pct(s.agentTicks + s.childTicks + s.agentReaped - inWindow[i]!.agentTicks - inWindow[i]!.childTicks - inWindow[i]!.agentReaped, s.at - inWindow[i]!.at));
  const simCpu = pct(s1.simTicks - s0.simTicks, windowMs);
  const machineBusy = (s1.machine.busy - s0.machine.busy) / (s1.machine.total - s0.machine.total) * 100;
  const lastSample = samples.at(-1) ?? s1;
  const peakMb = MB(Math.max(lastSample.hwmKb, s1.hwmKb));
  const rssWin = inWindow.map((s) => MB(s.rssKb));
  const childPssMax = Math.max(0, ...inWindow.map((s) => MB(s.childPssKb)));
  const cpuMsPerFrame = ((s1.agentTicks - s0.agentTicks) / CLK_TCK * 1000) / Math.max(1, storedWin.length);
  const cpuMsPerFrameTree = ((s1.agentTicks + s1.childTicks + s1.agentReaped - s0.agentTicks - s0.childTicks - s0.agentReaped) / CLK_TCK * 1000) / Math.max(1, storedWin.length);
  const bareCorePct = anchors.capture.cpuMsPerFrame * storedWin.length / windowMs * 100;
  const warnings = agent.logLines.filter((l) => l.level === 'warn' || l.level === 'error' || l.level === 'fatal');
  const warnKinds = [...new Set(warnings.map((w) => `${w.level}: ${w.msg}`))].slice(0, 5);

  const a = anchors.capture;
  const camerasDesc = mode === 'snapshot' ? 'HTTP-digest snapshots polled every 1 s' : 'RTSP H.264 at 1 fps through one ffmpeg decoder per camera';
  console.log(`\n${count} cameras, ${camerasDesc}; ${o.seconds} s measured after ${o.warmup} s warm-up (agent pid ${agent.pid}, ${o.runner === 'dist' ? 'compiled' : 'tsx'}${o.agentFlags ? ` ${o.agentFlags}` : ''}, running ${f1(agent.startMs / 1000)} s after spawn)`);
  console.log(`  cameras   online events ${db.online}/${count}, offline events ${db.offline}; ${report.soap} ONVIF SOAP requests, ${report.authFailures} digest failures`);
  if (mode === 'snapshot') {
    console.log(`  frames    window: sent ${sentWin.length} (expected ${count * o.seconds}), stored ${storedWinMatched}, ${f1(storedWin.length / (windowMs / 1000))} frames/s stored`);
    console.log(`            whole run: sent ${sent.length}, stored ${matched.length}, blocked ${db.blocked}, rejected ${db.rejected}, lost ${lost}: ${lostRunning} while running (goal 0), ${cutByShutdown} in flight at SIGTERM` +
      `${unmatched.length > 0 ? ` (not stored, sent at SIGTERM ${unmatchedAt})` : ''}${strangers > 0 ? `; ${strangers} rows match no frame sent` : ''}`);
    console.log(`            ${requests} authorised snapshot requests: ${requests - sent.length} were cut off by the agent's stop before the frame was fully sent`);
  } else {
    console.log(`  frames    window: stored ${storedWin.length} (expected ${count * o.seconds} at 1 fps), ${f1(storedWin.length / (windowMs / 1000))} frames/s; whole run: stored ${db.stored.length}, blocked ${db.blocked}, rejected ${db.rejected}`);
  }
  console.log(`  CPU       agent ${f1(agentCpu)}% of one core (mean; max 1-s sample ${f1(Math.max(...perSecond))}%)` +
    `${mode === 'rtsp' ? `; with its ${Math.max(0, ...inWindow.map((s) => s.children))} ffmpeg children ${f1(agentCpu + childCpu)}% (max ${f1(Math.max(...perSecondTree))}%)` : ' (it has no child processes in this mode)'}`);
  console.log(`            ${f1(mode === 'rtsp' ? cpuMsPerFrameTree : cpuMsPerFrame)} ms CPU per stored frame${mode === 'rtsp' ? ' incl. ffmpeg' : ''} = ${f1((mode === 'rtsp' ? cpuMsPerFrameTree : cpuMsPerFrame) / a.cpuMsPerFrame)}x the bare capture path (${a.cpuMsPerFrame.toFixed(2)} ms/frame, in-process back-to-back, ${a.n} frames: the same ${storedWin.length} frames would need ${f1(bareCorePct)}% of one core)`);
  console.log(`  memory    peak RSS ${f1(peakMb)} MB (VmHWM, lifetime incl. start-up; goal < 150 MB); in the window ${f1(MB(s0.rssKb))} MB at the start, ${f1(MB(s1.rssKb))} MB at the end, max ${f1(Math.max(...rssWin))} MB` +
    `${mode === 'rtsp' ? `; ffmpeg children ${f1(childPssMax)} MB PSS together (shared libraries counted once)` : ''}`);
  console.log(`            idle agent, same config with every camera disabled: ${f1(anchors.idle.rssMb)} MB RSS (peak ${f1(anchors.idle.hwmMb)} MB) -> peak = ${(peakMb / anchors.idle.hwmMb).toFixed(2)}x idle, +${f1((peakMb - anchors.idle.hwmMb) / count)} MB per camera`);
  if (mode === 'snapshot') {
    console.log(`  latency   camera sent -> row committed  p50 ${f1(quantile(e2e, 0.5))} ms  p99 ${f1(quantile(e2e, 0.99))} ms  max ${f1(e2e.at(-1) ?? NaN)} ms (${e2e.length} frames in the window)`);
    console.log(`            frames arrive in bursts: up to ${busiest100} frames sent within one 100 ms slot (${f1(sentWin.length / (o.seconds * 10))} on average)`);
    console.log(`            of which camera sent -> capture gate  p50 ${f1(quantile(toGate, 0.5))} ms  p99 ${f1(quantile(toGate, 0.99))} ms (HTTP body read, agent event loop)`);
  }
  console.log(`            capture gate -> row committed  p50 ${f1(quantile(inAgent, 0.5))} ms  p99 ${f1(quantile(inAgent, 0.99))} ms = ${f1(quantile(inAgent, 0.5) / a.p50)}x / ${f1(quantile(inAgent, 0.99) / a.p99)}x the bare path back-to-back (p50 ${a.p50.toFixed(2)} ms, p99 ${a.p99.toFixed(2)} ms, ${a.frameKiB.toFixed(0)} KiB frames)`);
  console.log(`  load      simulators ${f1(simCpu)}% of one core (their process${mode === 'rtsp' ? ' and ffmpeg encoders' : ''}); machine busy ${f1(machineBusy)}% of ${readdirSync('/sys/devices/system/cpu').filter((n) => /^cpu\d+$/.test(n)).length} cores in the window; loadavg ${loadBefore} before, ${loadAfter} after`);
  console.log(`  stop      SIGTERM -> exit ${f1(stopped.ms)} ms, status ${stopped.code ?? stopped.signal}; ${warnings.length} warn/error log lines${warnKinds.length > 0 ? ` (${warnKinds.join('; ')})` : ''}`);
  return { lost: mode === 'snapshot' ? lostRunning : 0, peakMb };
}

// ---------------------------------------------------------------------------------------------

export async function benchFleet(opts: Partial<FleetOptions> = {}): Promise<void> {
  const o: FleetOptions = { ...FLEET_DEFAULTS, ...opts };
  const dir = mkdtempSync(join(tmpdir(), 'camwarden-fleet-'));
  const cleanup: Cleanup = { children: [], dirs: [dir] };
  const onSignal = (signal: NodeJS.Signals) => {
    void killAll(cleanup).finally(() => {
      if (!o.keep) rmSync(dir, { recursive: true, force: true });
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    console.log(`fleet: ${o.cameras} simulated ONVIF cameras -> the agent process (camwarden run) -> stored images; cameras in their own process`);
    mkdirSync(join(dir, 'keys'), { recursive: true, mode: 0o700 });
    initKeys(join(dir, 'keys'));
    const main = o.runner === 'dist' ? buildAgent() : undefined;
    const argvFor = (config: string) => agentArgv(o, main, config);

    const capture = await captureAnchor(Math.max(200, o.cameras * o.seconds));
    console.log(`  anchor    bare capture path in-process: ${capture.perSecond.toFixed(0)} frames/s back-to-back, ${capture.cpuMsPerFrame.toFixed(2)} ms CPU/frame, p50 ${capture.p50.toFixed(2)} ms, p99 ${capture.p99.toFixed(2)} ms (${capture.n} simulator frames, ${capture.frameKiB.toFixed(0)} KiB)`);
    const placeholders: FleetCamera[] = Array.from({ length: o.cameras }, (_, i) => ({
      id: `bench-cam-${String(i + 1).padStart(2, '0')}`, deviceUrl: 'http://127.0.0.1:9/onvif/device_service', snapshotUrl: 'http://127.0.0.1:9/onvif/snapshot.jpg', rtspUrl: undefined, username: 'admin', password: 'unused',
    }));
    const idle = await idleAnchor(dir, argvFor, placeholders, cleanup);
    console.log(`  anchor    idle agent (same config, cameras disabled): ${f1(idle.rssMb)} MB RSS, ${f1(idle.hwmMb)} MB peak, 3 s after it was running (${f1(idle.startMs / 1000)} s after spawn)`);

    const fleet = await scenario('snapshot', o, o.cameras, dir, argvFor, { capture, idle }, cleanup);
    if (o.rtspCameras > 0) await scenario('rtsp', o, o.rtspCameras, dir, argvFor, { capture, idle }, cleanup);
    console.log(`\nfleet goals (${o.cameras} snapshot cameras): frames lost while running ${fleet.lost} (goal 0: ${fleet.lost === 0 ? 'met' : 'MISSED'}); ` +
      `peak RSS ${f1(fleet.peakMb)} MB (goal < 150 MB: ${fleet.peakMb < 150 ? 'met' : 'MISSED'})`);
  } finally {
    await killAll(cleanup);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (o.keep) console.log(`  kept ${dir}`);
    else for (const d of cleanup.dirs) rmSync(d, { recursive: true, force: true });
  }
}
