import { performance } from 'node:perf_hooks';

export interface Timing {
  perSecond: number;
  p50: number;
  p99: number;
  n: number;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Times `n` sequential runs of `fn` (after `warmup` untimed ones). Latencies in ms. */
export async function time(n: number, fn: (i: number) => unknown, warmup = 3): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await fn(i);
  const lat: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    lat.push(performance.now() - t);
  }
  const total = performance.now() - t0;
  lat.sort((a, b) => a - b);
  return { perSecond: (n * 1000) / total, p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), n };
}

export const fmt = (t: Timing) => `${t.perSecond.toFixed(1).padStart(7)}/s  p50 ${t.p50.toFixed(2).padStart(7)} ms  p99 ${t.p99.toFixed(2).padStart(7)} ms`;
