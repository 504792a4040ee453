import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, createWriteStream, existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ChildMessage, FleetCamera, ParentMessage } from './fleet-cameras.js';
import { procStat, sleep, wallNow } from './proc-sampler.js';

/**
 * The fleet benchmark's processes: the agent compiled as deployed and run under a guard, and the
 * camera simulators' process. Every child is registered in a Cleanup so nothing outlives the bench.
 */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BUILD_DIR = join(ROOT, 'node_modules', '.cache', 'camwarden-bench', 'dist');

export interface Cleanup { children: ChildProcess[]; dirs: string[] }

/** SIGTERM to every child still running, SIGKILL to those still there after 5 s. */
export async function killAll(c: Cleanup): Promise<void> {
  const alive = () => c.children.filter((p) => p.exitCode === null && p.signalCode === null && p.pid !== undefined);
  const signal = (sig: NodeJS.Signals) => {
    for (const p of alive()) {
      try { process.kill(p.pid!, sig); } catch { /* gone already */ }
    }
  };
  if (alive().length === 0) return;
  signal('SIGTERM');
  const deadline = Date.now() + 5000;
  while (alive().length > 0 && Date.now() < deadline) await sleep(50);
  signal('SIGKILL');
}

/** Compiles the agent as deployed (tsc, like `npm run build`) into a private folder, so a shared dist/ is left alone. */
export function buildAgent(): string {
  const t0 = performance.now();
  try {
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', BUILD_DIR, '--sourceMap', 'false'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    // tsc still emits on type errors (work in progress elsewhere in the tree); only a missing entry point stops the bench.
    const out = String((error as { stdout?: Buffer }).stdout ?? '').split('\n').filter(Boolean);
    console.log(`  (tsc reported ${out.length} type error line(s); the emitted JavaScript is used: ${out[0] ?? ''})`);
  }
  const main = join(BUILD_DIR, 'agent', 'main.js');
  if (!existsSync(main)) throw new Error(`the agent build produced no ${main}`);
  // The compiled store looks for its migrations beside itself.
  cpSync(join(ROOT, 'agent', 'store', 'migrations'), join(BUILD_DIR, 'agent', 'store', 'migrations'), { recursive: true });
  console.log(`  agent compiled with tsc in ${((performance.now() - t0) / 1000).toFixed(1)} s -> ${main.replace(`${ROOT}/`, '')}`);
  return main;
}

/** The node flags the systemd unit runs the agent with: the bench measures the agent as deployed. */
export function unitNodeFlags(): string {
  const unit = readFileSync(join(ROOT, 'systemd', 'camwarden-agent.service'), 'utf8');
  const exec = /^ExecStart=\S*node((?:\s+--\S+)*)\s/m.exec(unit);
  return exec?.[1]?.trim() ?? '';
}

export function agentArgv(o: { runner: 'dist' | 'tsx'; agentFlags: string }, main: string | undefined, configPath: string): string[] {
  const flags = o.agentFlags.split(/\s+/).filter(Boolean);
  return o.runner === 'dist' ? [...flags, main!, 'run', '--config', configPath] : [...flags, '--import', 'tsx', join(ROOT, 'agent', 'main.ts'), 'run', '--config', configPath];
}

/**
 * The agent runs under a small shell guard (the simulator's RTSP encoder uses the same one): when the
 * benchmark dies, even by SIGKILL, its end of the guard's stdin closes and the guard sends the agent
 * SIGTERM, so no agent outlives the benchmark.
 */
const GUARD = 'exec 3<&0; "$@" </dev/null & p=$!; (read _ <&3; kill $p 2>/dev/null) & w=$!; wait $p; s=$?; kill $w 2>/dev/null; exit $s';

/** The child of `parent` that runs node with `marker` in its command line (not the guard's own subshell). */
export async function nodeChild(parent: number, marker: string): Promise<number | undefined> {
  for (let i = 0; i < 100; i++) {
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name) || procStat(Number(name))?.ppid !== parent) continue;
      try {
        const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8');
        if (cmdline.startsWith(`${process.execPath}\0`) && cmdline.includes(marker)) return Number(name);
      } catch { /* gone */ }
    }
    await sleep(20);
  }
  return undefined;
}

export interface RunningAgent {
  proc: ChildProcess;
  pid: number;
  readyAt: number;
  /** spawn -> 'camwarden agent running', ms */
  startMs: number;
  logLines: { level: string; msg: string }[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function startAgent(argv: string[], logFile: string, cleanup: Cleanup): Promise<RunningAgent> {
  const t0 = wallNow();
  // As the systemd unit runs it.
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'production' };
  delete env['CREDENTIALS_DIRECTORY']; // the keys in the bench's keysDir, not a developer's systemd credentials
  delete env['CAMWARDEN_CONFIG'];
  const proc = spawn('sh', ['-c', GUARD, 'sh', process.execPath, ...argv], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  cleanup.children.push(proc);
  const pid = await nodeChild(proc.pid!, `\0run\0--config\0${argv.at(-1)}`);
  if (pid === undefined) throw new Error('cannot find the agent process under its guard');
  const exited = once(proc, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  const log = createWriteStream(logFile);
  proc.stderr!.pipe(log, { end: false });
  const logLines: RunningAgent['logLines'] = [];
  let onReady: (() => void) | undefined;
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    log.write(`${line}\n`);
    try {
      const j = JSON.parse(line) as { level?: string; msg?: string };
      logLines.push({ level: String(j.level), msg: String(j.msg) });
      if (j.msg === 'camwarden agent running') onReady?.();
    } catch {
      logLines.push({ level: 'raw', msg: line });
    }
  });
  const ready = new Promise<void>((r) => { onReady = r; });
  const outcome = await Promise.race([
    ready.then(() => 'ready' as const),
    exited.then(() => 'exited' as const),
    sleep(90_000).then(() => 'timeout' as const),
  ]);
  if (outcome !== 'ready') {
    const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n') : '';
    throw new Error(`the agent did not start (${outcome}); log tail:\n${tail}`);
  }
  const readyAt = wallNow();
  return { proc, pid, readyAt, startMs: readyAt - t0, logLines, exited };
}

export async function stopAgent(a: RunningAgent): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
  const t0 = performance.now();
  process.kill(a.pid, 'SIGTERM');
  const r = await Promise.race([a.exited, sleep(30_000).then(() => undefined)]);
  if (r) return { ...r, ms: performance.now() - t0 };
  process.kill(a.pid, 'SIGKILL');
  return { ...(await a.exited), ms: performance.now() - t0 };
}

export interface Cameras {
  proc: ChildProcess;
  cameras: FleetCamera[];
  report(): Promise<Extract<ChildMessage, { type: 'report' }>>;
  stop(): Promise<void>;
}

export async function startCameras(count: number, rtsp: boolean, cleanup: Cleanup): Promise<Cameras> {
  const proc = fork(join(ROOT, 'scripts', 'bench', 'fleet-cameras.ts'), [], { cwd: ROOT, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  cleanup.children.push(proc);
  const next = <T extends ChildMessage['type']>(type: T) => new Promise<Extract<ChildMessage, { type: T }>>((resolve, reject) => {
    const onMessage = (m: ChildMessage) => {
      if (m.type === type) { proc.off('message', onMessage); proc.off('exit', onExit); resolve(m as Extract<ChildMessage, { type: T }>); }
      if (m.type === 'error') { proc.off('message', onMessage); proc.off('exit', onExit); reject(new Error(`camera simulators: ${m.message}`)); }
    };
    const onExit = () => reject(new Error('the camera simulator process exited'));
    proc.on('message', onMessage);
    proc.once('exit', onExit);
  });
  const tell = (m: ParentMessage) => proc.send(m);
  const ready = next('ready');
  tell({ type: 'start', count, rtsp });
  const { cameras } = await ready;
  return {
    proc,
    cameras,
    report: () => { const r = next('report'); tell({ type: 'report' }); return r; },
    async stop() {
      if (proc.exitCode !== null) return;
      const gone = once(proc, 'exit');
      tell({ type: 'stop' });
      await Promise.race([gone, sleep(15_000)]);
    },
  };
}
