import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/**
 * What the fleet benchmark reads from /proc: CPU ticks (utime + stime, and those of reaped
 * children), resident and proportional memory, process trees, machine-wide busy time.
 */
export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();
export const wallNow = (): number => performance.timeOrigin + performance.now();
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));
export const MB = (kb: number) => kb / 1024;

// ---------------------------------------------------------------------------------------------
// /proc

export interface ProcStat { pid: number; ppid: number; ticks: number; reapedTicks: number }

export function procStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name sits in parentheses and may hold spaces; fields are counted after it.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { pid, ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]), reapedTicks: Number(f[13]) + Number(f[14]) };
}

export function procStatusKb(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return undefined;
  }
}

/** Proportional set size: shared pages (ffmpeg's libraries) divided among the processes that map them. */
export function procPssKb(pid: number): number {
  try {
    return Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** CPU ticks of every live descendant of `pid` (ffmpeg decoders of the RTSP source), plus their PSS. */
export function descendants(pid: number): { ticks: number; pssKb: number; count: number } {
  const all: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = procStat(Number(name));
    if (s) all.push(s);
  }
  const tree = new Set([pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const s of all) if (!tree.has(s.pid) && tree.has(s.ppid)) { tree.add(s.pid); grew = true; }
  }
  tree.delete(pid);
  let ticks = 0;
  let pssKb = 0;
  for (const s of all) {
    if (!tree.has(s.pid)) continue;
    ticks += s.ticks + s.reapedTicks;
    pssKb += procPssKb(s.pid);
  }
  return { ticks, pssKb, count: tree.size };
}

/** Busy and total jiffies of the whole machine (all cores). */
export function machineTicks(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - f[3]! - f[4]!, total };
}

export interface Sample {
  at: number;
  agentTicks: number;
  agentReaped: number;
  childTicks: number;
  childPssKb: number;
  children: number;
  rssKb: number;
  hwmKb: number;
  simTicks: number;
  machine: { busy: number; total: number };
}

export function sample(agentPid: number, simPid: number): Sample | undefined {
  const a = procStat(agentPid);
  const m = procStatusKb(agentPid);
  if (!a || !m) return undefined;
  const kids = descendants(agentPid);
  const sim = procStat(simPid);
  return {
    at: wallNow(), agentTicks: a.ticks, agentReaped: a.reapedTicks, childTicks: kids.ticks, childPssKb: kids.pssKb, children: kids.count,
    rssKb: m.rss, hwmKb: m.hwm,
    // The simulators' process and their ffmpeg encoders (RTSP).
    simTicks: (sim?.ticks ?? 0) + (sim?.reapedTicks ?? 0) + descendants(simPid).ticks,
    machine: machineTicks(),
  };
}

/** CPU % of one core between two samples. */
export const pct = (ticks: number, ms: number) => (ticks / CLK_TCK) / (ms / 1000) * 100;
