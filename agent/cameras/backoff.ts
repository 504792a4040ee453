/** Exponential backoff with jitter for restarting a camera stream. Pure: randomness comes in. */
export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  factor: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1_000, maxMs: 60_000, factor: 2 };

/**
 * The delay before retry number `attempt` (0 for the first retry): the exponential step, capped at
 * maxMs, of which the upper half is random ("equal jitter"). The lower half keeps a floor, so a
 * dead camera never makes a hot loop, and the random half keeps cameras that died together (one
 * switch, one power cut) from coming back in lockstep. `random` is in [0, 1).
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: number): number {
  const { initialMs, maxMs, factor } = policy;
  const n = Math.max(0, Math.floor(attempt));
  // A factor below 1 would shrink the delay: treated as 1. The exponent is capped so it stays finite.
  const step = Math.min(maxMs, initialMs * Math.max(1, factor) ** Math.min(n, 64));
  const r = Math.min(Math.max(random, 0), 1);
  return Math.round(step / 2 + (step / 2) * r);
}

export function validBackoff(p: BackoffPolicy): boolean {
  return Number.isFinite(p.initialMs) && Number.isFinite(p.maxMs) && Number.isFinite(p.factor) && p.initialMs > 0 && p.maxMs >= p.initialMs && p.factor >= 1;
}
