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

/**
 * Times several functions over the same rounds, their order alternating each round, so a box
 * whose disk or CPU drifts during the run slows them alike. `n` runs of each in all.
 */
export async function timeInterleaved<K extends string>(n: number, rounds: number, fns: Record<K, (i: number) => unknown>, warmup = 3): Promise<Record<K, Timing>> {
  const keys = Object.keys(fns) as K[];
  const lat = Object.fromEntries(keys.map((k) => [k, [] as number[]])) as Record<K, number[]>;
  const total = Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
  for (const k of keys) for (let i = 0; i < warmup; i++) await fns[k](i);
  let i = 0;
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? keys : [...keys].reverse();
    const per = Math.ceil(n / rounds);
    for (const k of order) {
      const t0 = performance.now();
      for (let j = 0; j < per && lat[k].length < n; j++) {
        const t = performance.now();
        await fns[k](i++);
        lat[k].push(performance.now() - t);
      }
      total[k] += performance.now() - t0;
    }
  }
  const out = {} as Record<K, Timing>;
  for (const k of keys) {
    const sorted = lat[k].sort((a, b) => a - b);
    out[k] = { perSecond: (sorted.length * 1000) / total[k], p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), n: sorted.length };
  }
  return out;
}

/** `inFlight` runs at a time (several cameras at once) until `n` are done; throughput only. */
export async function throughput(n: number, inFlight: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < n) await fn(next++);
    }),
  );
  return (n * 1000) / (performance.now() - t0);
}
