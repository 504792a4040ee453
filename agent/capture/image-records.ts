import type { Db } from '../store/open-database.js';
import { CamwardenError } from '../errors.js';

/** Owner of the images table. */
export interface ImageRecord {
  id: string;
  cameraId: string;
  noticeId: string;
  piaId: string | null;
  capturedAt: string;
  storedAt: string;
  purpose: 'public-safety';
  originalSha256: string;
  bytes: number;
  width: number;
  height: number;
  retainUntil: string;
  legalHold: boolean;
  holdReason: string | null;
  blobFile: string;
}

interface Row {
  id: string;
  camera_id: string;
  notice_id: string;
  pia_id: string | null;
  captured_at: string;
  stored_at: string;
  purpose: 'public-safety';
  original_sha256: string;
  bytes: number;
  width: number;
  height: number;
  retain_until: string;
  legal_hold: number;
  hold_reason: string | null;
  blob_file: string;
}

const toRecord = (r: Row): ImageRecord => ({
  id: r.id,
  cameraId: r.camera_id,
  noticeId: r.notice_id,
  piaId: r.pia_id,
  capturedAt: r.captured_at,
  storedAt: r.stored_at,
  purpose: r.purpose,
  originalSha256: r.original_sha256,
  bytes: r.bytes,
  width: r.width,
  height: r.height,
  retainUntil: r.retain_until,
  legalHold: r.legal_hold === 1,
  holdReason: r.hold_reason,
  blobFile: r.blob_file,
});

export interface ImageFilter {
  camera?: string;
  from?: string;
  to?: string;
  limit?: number;
  afterId?: string;
}

export interface ImageRecords {
  insert(r: ImageRecord): void;
  get(id: string): ImageRecord;
  find(id: string): ImageRecord | undefined;
  list(f?: ImageFilter): ImageRecord[];
  setHold(id: string, hold: boolean, reason: string | null): void;
  /** Expired and not on legal hold (Shenzhen Art. 11, 25: delete when the period ends). */
  expired(now: Date, limit: number): ImageRecord[];
  countExpired(now: Date): number;
  remove(id: string): void;
  allBlobFiles(): Set<string>;
  count(): number;
}

export function createImageRecords({ db }: { db: Db }): ImageRecords {
  const insert = db.prepare(
    `INSERT INTO images (id, camera_id, notice_id, pia_id, captured_at, stored_at, purpose, original_sha256,
       bytes, width, height, retain_until, legal_hold, hold_reason, blob_file)
     VALUES (@id, @cameraId, @noticeId, @piaId, @capturedAt, @storedAt, @purpose, @originalSha256,
       @bytes, @width, @height, @retainUntil, @legalHold, @holdReason, @blobFile)`,
  );
  const byId = db.prepare<[string], Row>('SELECT * FROM images WHERE id = ?');
  const listStmt = db.prepare<Record<string, unknown>, Row>(
    `SELECT * FROM images
     WHERE (@camera IS NULL OR camera_id = @camera) AND (@from IS NULL OR captured_at >= @from)
       AND (@to IS NULL OR captured_at < @to) AND (@afterId IS NULL OR id > @afterId)
     ORDER BY captured_at, id LIMIT @limit`,
  );
  const hold = db.prepare('UPDATE images SET legal_hold = ?, hold_reason = ? WHERE id = ?');
  const expiredStmt = db.prepare<[string, number], Row>(
    'SELECT * FROM images WHERE legal_hold = 0 AND retain_until <= ? ORDER BY retain_until LIMIT ?',
  );
  const countExpiredStmt = db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM images WHERE legal_hold = 0 AND retain_until <= ?');
  const del = db.prepare('DELETE FROM images WHERE id = ?');
  const files = db.prepare<[], { blob_file: string }>('SELECT blob_file FROM images');
  const countStmt = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM images');

  const find = (id: string) => {
    const r = byId.get(id);
    return r ? toRecord(r) : undefined;
  };
  return {
    insert: (r) => insert.run({ ...r, legalHold: r.legalHold ? 1 : 0 }),
    find,
    get(id) {
      const r = find(id);
      if (!r) throw new CamwardenError('not-found', `image ${id} not found`, { field: 'id' });
      return r;
    },
    list: (f = {}) =>
      listStmt
        .all({ camera: f.camera ?? null, from: f.from ?? null, to: f.to ?? null, afterId: f.afterId ?? null, limit: f.limit ?? 100 })
        .map(toRecord),
    setHold(id, h, reason) {
      if (hold.run(h ? 1 : 0, reason, id).changes === 0) throw new CamwardenError('not-found', `image ${id} not found`, { field: 'id' });
    },
    expired: (now, limit) => expiredStmt.all(now.toISOString(), limit).map(toRecord),
    countExpired: (now) => countExpiredStmt.get(now.toISOString())?.n ?? 0,
    remove: (id) => {
      del.run(id);
    },
    allBlobFiles: () => new Set(files.all().map((r) => r.blob_file)),
    count: () => countStmt.get()?.n ?? 0,
  };
}
