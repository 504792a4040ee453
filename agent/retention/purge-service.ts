import type { AuditLog } from '../audit/audit-log.js';
import type { PiaRegister } from '../assessments/pia-register.js';
import type { ImageRecords } from '../capture/image-records.js';
import type { Clock } from '../clock.js';
import type { Outbox } from '../reporting/outbox.js';
import type { BlobStore } from '../store/blob-store.js';
import type { Db } from '../store/open-database.js';
import { shouldPurge } from './should-purge.js';

export interface PurgeResult {
  images: number;
  held: number;
  assessments: number;
  dryRun: boolean;
}

export interface PurgeService {
  /** Deletes expired images in batches: rows first (one transaction per batch), files after. */
  purge(opts?: { dryRun?: boolean; actor?: string; onProgress?: (done: number, total: number) => void }): PurgeResult;
}

const BATCH = 500;

export function createPurgeService(d: { db: Db; images: ImageRecords; blobs: BlobStore; pias: Pick<PiaRegister, 'purgeExpired'>; audit: AuditLog; outbox: Outbox; clock: Clock }): PurgeService {
  const heldCount = d.db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM images WHERE legal_hold = 1 AND retain_until <= ?');

  // Rows go first: a crash after the commit leaves only orphan files, which reconcile removes.
  const deleteBatch = d.db.transaction((ids: string[], before: string, actor: string) => {
    for (const id of ids) d.images.remove(id);
    d.audit.append({
      actor,
      action: 'image.purge',
      object: `images:${ids.length}`,
      decision: 'done',
      rule: 'retention.expired',
      detail: { count: ids.length, before, ids },
    });
    d.outbox.add('images-purged', { count: ids.length, before });
  });

  return {
    purge({ dryRun = false, actor = 'agent', onProgress } = {}) {
      const now = d.clock.now();
      const before = now.toISOString();
      const total = d.images.countExpired(now);
      const held = heldCount.get(before)?.n ?? 0;
      if (dryRun) return { images: total, held, assessments: 0, dryRun };
      let done = 0;
      onProgress?.(0, total);
      for (;;) {
        const batch = d.images.expired(now, BATCH).filter((r) => shouldPurge(r, now));
        if (batch.length === 0) break;
        deleteBatch.immediate(
          batch.map((r) => r.id),
          before,
          actor,
        );
        for (const r of batch) d.blobs.remove(r.blobFile);
        done += batch.length;
        onProgress?.(done, total);
      }
      const assessments = d.pias.purgeExpired(now, actor).length;
      return { images: done, held, assessments, dryRun };
    },
  };
}
