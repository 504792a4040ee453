import type { AuditLog } from '../audit/audit-log.js';
import type { Outbox } from '../reporting/outbox.js';
import type { BlobStore } from './blob-store.js';
import type { Db } from './open-database.js';

export interface ReconcileResult {
  tempFilesRemoved: number;
  orphanFilesRemoved: number;
  rowsWithoutFile: string[];
}

/**
 * After a crash or power loss: no file without a row, no row without a file. A blob without a
 * row is an image whose commit never happened, so it is removed; a row without a blob is a lost
 * image, which is recorded (Shenzhen Art. 83: loss is an incident) and its row removed.
 */
export function reconcileStore({ db, blobs, audit, outbox }: { db: Db; blobs: BlobStore; audit: AuditLog; outbox: Outbox }): ReconcileResult {
  const tempFilesRemoved = blobs.sweepTemp();
  const referenced = new Set<string>();
  for (const r of db.prepare<[], { f: string }>('SELECT blob_file AS f FROM images UNION ALL SELECT evidence_file AS f FROM notices WHERE evidence_file IS NOT NULL').all()) {
    referenced.add(r.f);
  }
  let orphanFilesRemoved = 0;
  for (const file of blobs.list()) {
    if (!referenced.has(file)) {
      blobs.remove(file);
      orphanFilesRemoved += 1;
    }
  }
  const lost = db
    .prepare<[], { id: string; blob_file: string }>('SELECT id, blob_file FROM images')
    .all()
    .filter((r) => !blobs.exists(r.blob_file))
    .map((r) => r.id);
  const del = db.prepare('DELETE FROM images WHERE id = ?');
  if (lost.length > 0 || orphanFilesRemoved > 0 || tempFilesRemoved > 0) {
    db.transaction(() => {
      for (const id of lost) del.run(id);
      audit.append({
        actor: 'agent',
        action: 'store.reconcile',
        object: 'store',
        decision: 'done',
        rule: lost.length > 0 ? 'store.image-lost' : 'store.orphans-removed',
        detail: { tempFilesRemoved, orphanFilesRemoved, lostImages: lost },
      });
      outbox.add('store-reconciled', { tempFilesRemoved, orphanFilesRemoved, lostImages: lost.length });
    }).immediate();
  }
  return { tempFilesRemoved, orphanFilesRemoved, rowsWithoutFile: lost };
}
