import { createHash } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.js';
import { addDays, type Clock, type Ids } from '../clock.js';
import { CamwardenError } from '../errors.js';
import type { Outbox } from '../reporting/outbox.js';
import type { BlobStore } from '../store/blob-store.js';
import { writeTransaction, type Db } from '../store/open-database.js';
import { checkNoticeContent, type NoticeContent } from './notice-content.js';

/**
 * The register of notices (signs). PIPL Art. 26 and Measures Art. 13: a camera in a public place
 * may capture only while a prominent sign covering it is registered, verified and current.
 * Owns the tables notices and notice_cameras.
 */
export type NoticeState = 'draft' | 'verified' | 'expired' | 'withdrawn';

/** The photo of the installed sign: its SHA-256, when it was attached, its encrypted blob file. */
export interface NoticeEvidence { sha256: string; at: string; file: string }

export interface Notice {
  id: string;
  createdAt: string;
  state: NoticeState;
  /** Shared between calls and frozen: a notice's text never changes, a new text is a new notice. */
  content: NoticeContent;
  cameras: string[];
  evidence?: NoticeEvidence;
  verifiedBy?: string;
  verifiedAt?: string;
  expiresAt?: string;
  withdrawnAt?: string;
  withdrawnReason?: string;
}

export interface NoticeRegister {
  add(input: { content: NoticeContent; cameras: string[] }, actor: string): Notice;
  /** Async because the encrypted photo is written (and fsynced) before the row points at it. */
  attachEvidence(id: string, photo: Buffer, actor: string): Promise<Notice>;
  verify(id: string, by: string, actor: string): Notice;
  withdraw(id: string, reason: string, actor: string): Notice;
  get(id: string): Notice;
  list(filter?: { camera?: string; state?: NoticeState }): Notice[];
  /** The current verified notice covering a camera at `now`, latest verifiedAt first; undefined if none. */
  currentFor(cameraId: string, now: Date): Notice | undefined;
  evidencePhoto(id: string): Buffer;
}

export interface NoticeRegisterDeps {
  db: Db;
  audit: AuditLog;
  outbox: Outbox;
  blobs: BlobStore;
  clock: Clock;
  ids: Ids;
  /** From the jurisdiction profile: how long a verification holds before someone must look again. */
  reverifyDays: number;
  knownCameras: () => readonly string[];
}

/** 'expired' is never stored: a verified notice lapses by itself when its re-verification date passes. */
export function noticeState(n: { state: NoticeState; expiresAt?: string | undefined }, now: Date): NoticeState {
  if (n.state !== 'verified') return n.state;
  // Fail closed: a verified notice without an expiry date counts as lapsed.
  if (n.expiresAt === undefined || now.getTime() >= Date.parse(n.expiresAt)) return 'expired';
  return 'verified';
}

interface Row {
  id: string;
  created_at: string;
  state: 'draft' | 'verified' | 'withdrawn';
  evidence_sha256: string | null;
  evidence_at: string | null;
  evidence_file: string | null;
  verified_by: string | null;
  verified_at: string | null;
  expires_at: string | null;
  withdrawn_at: string | null;
  withdrawn_reason: string | null;
}

const COLS = 'n.id, n.created_at, n.state, n.evidence_sha256, n.evidence_at, n.evidence_file, n.verified_by, n.verified_at, n.expires_at, '
  + 'n.withdrawn_at, n.withdrawn_reason';

const JPEG_MAGIC = Buffer.from([0xff, 0xd8, 0xff]);
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

function stateOf(row: Row, now: Date): NoticeState {
  return noticeState({ state: row.state, expiresAt: row.expires_at ?? undefined }, now);
}

function isObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null;
}

function nonEmpty(value: unknown): value is string {
  return typeof value === 'string' && value.trim() !== '';
}

/** Notice writes made through any register on a connection (PRAGMA data_version only counts other connections'). */
const noticeWrites = new WeakMap<Db, { n: number }>();
function writesOn(db: Db): { n: number } {
  let w = noticeWrites.get(db);
  if (w === undefined) noticeWrites.set(db, (w = { n: 0 }));
  return w;
}

export function createNoticeRegister(deps: NoticeRegisterDeps): NoticeRegister {
  const { db, audit, outbox, blobs, clock, reverifyDays, knownCameras } = deps;
  if (!Number.isFinite(reverifyDays) || reverifyDays <= 0) {
    throw new CamwardenError('config.invalid', `reverifyDays must be a positive number, got ${reverifyDays}`);
  }

  const insertNotice = db.prepare("INSERT INTO notices (id, created_at, state, content) VALUES (?, ?, 'draft', ?)");
  const insertCamera = db.prepare('INSERT INTO notice_cameras (notice_id, camera_id) VALUES (?, ?)');
  const byId = db.prepare<[string], Row>(`SELECT ${COLS} FROM notices n WHERE n.id = ?`);
  const contentOf = db.prepare<[string], { content: string }>('SELECT content FROM notices WHERE id = ?');
  const camerasOf = db.prepare<[string], { camera_id: string }>('SELECT camera_id FROM notice_cameras WHERE notice_id = ? ORDER BY camera_id');
  const all = db.prepare<[], Row>(`SELECT ${COLS} FROM notices n ORDER BY n.rowid`);
  const byCamera = db.prepare<[string], Row>(
    `SELECT ${COLS} FROM notice_cameras nc JOIN notices n ON n.id = nc.notice_id WHERE nc.camera_id = ? ORDER BY n.rowid`,
  );
  // Starts from notice_cameras_camera; verified_at <= now fails closed for a frame stamped before
  // the verification that would cover it.
  const current = db.prepare<[string, string, string], Row>(
    `SELECT ${COLS} FROM notice_cameras nc JOIN notices n ON n.id = nc.notice_id
     WHERE nc.camera_id = ? AND n.state = 'verified' AND n.expires_at > ? AND n.verified_at <= ?
     ORDER BY n.verified_at DESC, n.rowid DESC LIMIT 1`,
  );
  const nextVerified = db.prepare<[string, string], { next: string | null }>(
    `SELECT min(n.verified_at) AS next FROM notice_cameras nc JOIN notices n ON n.id = nc.notice_id
     WHERE nc.camera_id = ? AND n.state = 'verified' AND n.verified_at > ?`,
  );
  const dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
  const setEvidence = db.prepare('UPDATE notices SET evidence_sha256 = ?, evidence_at = ?, evidence_file = ? WHERE id = ?');
  const setVerified = db.prepare("UPDATE notices SET state = 'verified', verified_by = ?, verified_at = ?, expires_at = ? WHERE id = ?");
  const setWithdrawn = db.prepare("UPDATE notices SET state = 'withdrawn', withdrawn_at = ?, withdrawn_reason = ? WHERE id = ?");

  // Content and cameras never change after add, so the per-frame lookup skips re-reading and
  // re-parsing them; only the mutable columns come from the database each time, which keeps
  // this safe when another process (the operator's CLI) changes a notice's state.
  const fixed = new Map<string, { content: NoticeContent; cameras: readonly string[] }>();
  function fixedOf(id: string): { content: NoticeContent; cameras: readonly string[] } {
    let f = fixed.get(id);
    if (f === undefined) {
      const content = JSON.parse(contentOf.get(id)?.content ?? 'null') as NoticeContent;
      f = deepFreeze({ content, cameras: camerasOf.all(id).map((r) => r.camera_id) });
      fixed.set(id, f);
    }
    return f;
  }

  function toNotice(row: Row, now: Date): Notice {
    const f = fixedOf(row.id);
    const n: Notice = { id: row.id, createdAt: row.created_at, state: stateOf(row, now), content: f.content, cameras: [...f.cameras] };
    if (row.evidence_sha256 !== null && row.evidence_at !== null && row.evidence_file !== null) {
      n.evidence = { sha256: row.evidence_sha256, at: row.evidence_at, file: row.evidence_file };
    }
    if (row.verified_by !== null) n.verifiedBy = row.verified_by;
    if (row.verified_at !== null) n.verifiedAt = row.verified_at;
    if (row.expires_at !== null) n.expiresAt = row.expires_at;
    if (row.withdrawn_at !== null) n.withdrawnAt = row.withdrawn_at;
    if (row.withdrawn_reason !== null) n.withdrawnReason = row.withdrawn_reason;
    return n;
  }

  function mustGet(id: string): Row {
    const row = byId.get(id);
    if (row === undefined) throw new CamwardenError('not-found', `notice ${id} not found`);
    return row;
  }

  function notWithdrawn(row: Row, doing: string): void {
    if (row.state === 'withdrawn') throw new CamwardenError('notice.state', `notice ${row.id} is withdrawn; cannot ${doing} it`);
  }

  /** Audit entry and report in the caller's transaction. Names and reasons stay in the row only. */
  function record(row: Row, action: string, actor: string, detail: Record<string, unknown>): Notice {
    const notice = toNotice(row, clock.now());
    audit.append({ actor, action, object: notice.id, decision: 'done', detail });
    const expiry = notice.expiresAt === undefined ? {} : { expiresAt: notice.expiresAt };
    outbox.add('notice-changed', { notice: notice.id, state: notice.state, cameras: notice.cameras, ...expiry });
    return notice;
  }

  // Immediate: each body reads the row and then writes, and the CLI may write from another process.
  // currentFor runs for every frame (twice), so its answer is kept per camera while it cannot
  // have changed: no commit by another connection (PRAGMA data_version stays the same), no notice
  // write on this connection by any register (each bumps the connection's count, before and
  // after, so a rolled-back write is covered too), and the time asked lies in [asked, until):
  // until the notice expires or another notice for the camera becomes verified (a verification
  // time ahead of the clock).
  interface Answer { writes: number; dataVersion: number; from: number; until: number; row: Row | undefined }
  const answers = new Map<string, Answer>();
  const writes = writesOn(db);
  const tx = <A extends unknown[], R>(fn: (...args: A) => R) => {
    const t = writeTransaction(db, fn);
    return (...args: A): R => {
      writes.n += 1;
      try {
        return t(...args);
      } finally {
        writes.n += 1;
      }
    };
  };

  function currentRow(cameraId: string, now: Date): Row | undefined {
    const at = now.getTime();
    const version = dataVersion.get() ?? -1;
    const cached = answers.get(cameraId);
    if (cached && cached.writes === writes.n && cached.dataVersion === version && at >= cached.from && at < cached.until) return cached.row;
    const t = now.toISOString();
    const row = current.get(cameraId, t, t);
    const next = nextVerified.get(cameraId, t)?.next;
    const until = Math.min(row?.expires_at ? Date.parse(row.expires_at) : Infinity, next ? Date.parse(next) : Infinity);
    // Not kept while a transaction is open: it might yet roll back what this answer saw.
    if (!db.inTransaction) answers.set(cameraId, { writes: writes.n, dataVersion: version, from: at, until, row });
    return row;
  }

  const addTx = tx((content: NoticeContent, cameras: string[], actor: string): Notice => {
    const id = deps.ids.next();
    insertNotice.run(id, clock.now().toISOString(), JSON.stringify(content));
    for (const c of cameras) insertCamera.run(id, c);
    return record(mustGet(id), 'notice.add', actor, { cameras, faceRecognition: content.terms.faceRecognition });
  });

  const evidenceTx = tx((id: string, ev: NoticeEvidence, actor: string) => {
    const before = mustGet(id);
    notWithdrawn(before, 'attach evidence to');
    setEvidence.run(ev.sha256, ev.at, ev.file, id);
    const after: Row = { ...before, evidence_sha256: ev.sha256, evidence_at: ev.at, evidence_file: ev.file };
    const notice = record(after, 'notice.evidence', actor, { sha256: ev.sha256, replaced: before.evidence_sha256 });
    return { notice, replaced: before.evidence_file };
  });

  const verifyTx = tx((id: string, by: string, actor: string): Notice => {
    const before = mustGet(id);
    notWithdrawn(before, 'verify');
    if (before.evidence_file === null) throw new CamwardenError('notice.evidence-missing', `notice ${id} has no photo of the installed sign`);
    const now = clock.now();
    const [verifiedAt, expiresAt] = [now.toISOString(), addDays(now, reverifyDays).toISOString()];
    setVerified.run(by, verifiedAt, expiresAt, id);
    const after: Row = { ...before, state: 'verified', verified_by: by, verified_at: verifiedAt, expires_at: expiresAt };
    return record(after, 'notice.verify', actor, { previous: stateOf(before, now), expiresAt });
  });

  const withdrawTx = tx((id: string, reason: string, actor: string): Notice => {
    const before = mustGet(id);
    notWithdrawn(before, 'withdraw');
    const now = clock.now();
    setWithdrawn.run(now.toISOString(), reason, id);
    const after: Row = { ...before, state: 'withdrawn', withdrawn_at: now.toISOString(), withdrawn_reason: reason };
    return record(after, 'notice.withdraw', actor, { previous: stateOf(before, now) });
  });

  return {
    add(input, actor) {
      const content = input?.content;
      // Guards checkNoticeContent from untyped callers, so a malformed body is an answer, not a crash.
      const absent: string[] = (['terms', 'text', 'placement'] as const).filter((k) => !isObject(content?.[k]));
      if (absent.length === 0 && !isObject(content.text.zh)) absent.push('text.zh');
      if (absent.length > 0) {
        throw new CamwardenError('notice.incomplete', `notice is missing ${absent.join(', ')}`, { field: absent[0], details: { missing: absent } });
      }
      checkNoticeContent(content); // Shenzhen Art. 14: everything a sign must say
      const cameras = Array.isArray(input.cameras) ? [...new Set(input.cameras)].sort() : [];
      if (cameras.length === 0 || !cameras.every(nonEmpty)) {
        throw new CamwardenError('input.invalid', 'a notice must cover at least one camera', { field: 'cameras' });
      }
      const known = new Set(knownCameras());
      const unknown = cameras.filter((c) => !known.has(c));
      if (unknown.length > 0) {
        throw new CamwardenError('input.invalid', `unknown cameras: ${unknown.join(', ')}`, { field: 'cameras', details: { unknown } });
      }
      return addTx(content, cameras, actor);
    },

    async attachEvidence(id, photo, actor) {
      if (!Buffer.isBuffer(photo) || !(photo.subarray(0, 3).equals(JPEG_MAGIC) || photo.subarray(0, 8).equals(PNG_MAGIC))) {
        throw new CamwardenError('input.invalid', 'evidence must be a JPEG or PNG photo of the installed sign', { field: 'photo' });
      }
      const before = mustGet(id);
      notWithdrawn(before, 'attach evidence to'); // checked again under the lock; this spares a blob write
      const sha256 = createHash('sha256').update(photo).digest('hex');
      // Named after the photo, so writing a new one never overwrites the file the committed row points at.
      const file = await blobs.write(`ev-${id.replace(/[^A-Za-z0-9_-]/g, '_')}-${sha256.slice(0, 16)}`, photo);
      let result: { notice: Notice; replaced: string | null };
      try {
        result = evidenceTx(id, { sha256, at: clock.now().toISOString(), file }, actor);
      } catch (error) {
        if (byId.get(id)?.evidence_file !== file) blobs.remove(file);
        throw error;
      }
      if (result.replaced !== null && result.replaced !== file) {
        try {
          blobs.remove(result.replaced);
        } catch {
          // an orphan blob is removed by the start-up reconcile
        }
      }
      return result.notice;
    },

    verify(id, by, actor) {
      if (!nonEmpty(by)) throw new CamwardenError('input.invalid', 'a notice is verified by a named person', { field: 'by' });
      return verifyTx(id, by.trim(), actor);
    },

    withdraw(id, reason, actor) {
      if (!nonEmpty(reason)) throw new CamwardenError('input.invalid', 'withdrawing a notice needs a reason', { field: 'reason' });
      return withdrawTx(id, reason.trim(), actor);
    },

    get: (id) => toNotice(mustGet(id), clock.now()),

    list(filter = {}) {
      const now = clock.now();
      const rows = filter.camera === undefined ? all.all() : byCamera.all(filter.camera);
      const notices = rows.map((r) => toNotice(r, now));
      return filter.state === undefined ? notices : notices.filter((n) => n.state === filter.state);
    },

    currentFor(cameraId, now) {
      const row = currentRow(cameraId, now);
      return row === undefined ? undefined : toNotice(row, now);
    },

    evidencePhoto(id) {
      const row = mustGet(id);
      if (row.evidence_file === null) throw new CamwardenError('notice.evidence-missing', `notice ${id} has no evidence photo`);
      return blobs.read(row.evidence_file);
    },
  };
}
