import { randomUUID } from 'node:crypto';

/** Time comes in as a dependency so tests are exact. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock tests can set and advance. */
export function manualClock(start: Date | string): Clock & { set(t: Date | string): void; advance(ms: number): void } {
  let t = new Date(start).getTime();
  return {
    now: () => new Date(t),
    set: (v) => {
      t = new Date(v).getTime();
    },
    advance: (ms) => {
      t += ms;
    },
  };
}

export interface Ids {
  next(): string;
}

export const randomIds: Ids = { next: () => randomUUID() };

export const DAY_MS = 86_400_000;

export function addDays(t: Date, days: number): Date {
  return new Date(t.getTime() + days * DAY_MS);
}
