import type { AuditLog } from '../audit/audit-log.js';
import type { Clock } from '../clock.js';
import type { Db } from '../store/open-database.js';
import type { Outbox } from '../reporting/outbox.js';

/**
 * Rate-limited capture violations: the first dropped frame of a camera is recorded at once (a
 * regulator must see it), further ones within the window are counted and written as one entry
 * with the count when the window closes. A camera pushing 25 fps without a notice therefore
 * costs one audit entry a minute, not 1,500.
 */
export interface Violation {
  kind: 'capture-blocked' | 'capture-rejected';
  camera: string;
  reason: string;
  rule: string;
  citation: string;
  message: string;
}

interface Window {
  v: Violation;
  openedAt: number;
  suppressed: number;
}

export interface ViolationReporter {
  report(v: Violation): void;
  /** Writes the counts of windows that have closed (or all of them when `all`). */
  flush(all?: boolean): void;
}

export function createViolationReporter({ db, audit, outbox, clock, windowMs }: { db: Db; audit: AuditLog; outbox: Outbox; clock: Clock; windowMs: number }): ViolationReporter {
  const windows = new Map<string, Window>();

  const write = db.transaction((v: Violation, count: number, since: string) => {
    audit.append({
      actor: 'agent',
      action: v.kind,
      object: `camera:${v.camera}`,
      decision: v.kind === 'capture-blocked' ? 'blocked' : 'rejected',
      rule: v.rule,
      detail: { reason: v.reason, citation: v.citation, count, since, message: v.message },
    });
    outbox.add(v.kind, { camera: v.camera, reason: v.reason, rule: v.rule, citation: v.citation, count, since });
  });

  function close(key: string, w: Window): void {
    windows.delete(key);
    if (w.suppressed > 0) write.immediate(w.v, w.suppressed, new Date(w.openedAt).toISOString());
  }

  return {
    report(v) {
      const now = clock.now().getTime();
      const key = `${v.kind}\u0000${v.camera}\u0000${v.reason}`;
      const w = windows.get(key);
      if (w && now - w.openedAt < windowMs) {
        w.suppressed += 1;
        return;
      }
      if (w) close(key, w);
      windows.set(key, { v, openedAt: now, suppressed: 0 });
      write.immediate(v, 1, new Date(now).toISOString());
    },
    flush(all = false) {
      const now = clock.now().getTime();
      for (const [key, w] of [...windows]) if (all || now - w.openedAt >= windowMs) close(key, w);
    },
  };
}
