import type { AuditLog } from '../audit/audit-log.js';
import type { Clock, Ids } from '../clock.js';
import { ID_PATTERN } from '../config/schema.js';
import { CamwardenError } from '../errors.js';
import type { Outbox } from '../reporting/outbox.js';
import { writeTransaction, type Db } from '../store/open-database.js';

/**
 * Personal-information impact assessments for face processing (Measures Art. 9; PIPL Art. 55-56):
 * no current assessment, no face processing. Assessments are never edited: a changed purpose or
 * method is a new version of the same subject. Owns the tables pias and pia_cameras.
 */
export interface PiaContent {
  /** Whether the purpose and method are lawful, legitimate and necessary. */
  lawfulness: string;
  /** The impact on the person's rights and the measures reducing it. */
  impact: string;
  /** Risks of leak, alteration, loss and misuse, and the harm they could do. */
  risks: string;
  /** Whether the protective measures are lawful, effective and proportionate to the risk. */
  safeguards: string;
}

export interface Pia {
  id: string;
  /** What is assessed, e.g. 'north-gate-face'; an id, because it travels in reports. */
  subject: string;
  version: number;
  /** Shared between calls and frozen. */
  content: PiaContent;
  cameras: string[];
  signedBy: string;
  signedAt: string;
  reviewBy: string;
  retainUntil: string;
  createdAt: string;
  /** The latest version of its subject and reviewBy > now. */
  current: boolean;
}

export interface PiaInput {
  subject: string;
  content: PiaContent;
  cameras: string[];
  signedBy: string;
  signedAt?: string;
  reviewBy?: string;
}

export interface PiaRegister {
  add(input: PiaInput, actor: string): Pia;
  get(id: string): Pia;
  list(): Pia[];
  /** The current assessment covering a camera at `now`, latest signedAt first. Called per frame. */
  currentFor(cameraId: string, now: Date): Pia | undefined;
  /** Removes superseded assessments whose retainUntil has passed; never the latest of a subject. Returns ids removed. */
  purgeExpired(now: Date, actor: string): string[];
  /** Refused with 'pia.retained' before retainUntil. */
  remove(id: string, actor: string): void;
}

export interface PiaRegisterDeps {
  db: Db;
  audit: AuditLog;
  outbox: Outbox;
  clock: Clock;
  ids: Ids;
  /** From the jurisdiction profile (Measures Art. 9: at least 3 years). */
  retentionYears: number;
  reviewMonths: number;
  /** Camera ids of the config; an assessment can only cover cameras that exist. */
  knownCameras?: () => readonly string[];
}

/** The four elements of Measures Art. 9, in the order the article lists them. */
export const PIA_ELEMENTS = ['lawfulness', 'impact', 'risks', 'safeguards'] as const satisfies readonly (keyof PiaContent)[];

/**
 * Calendar months in UTC. A day the target month lacks (31 Jan + 1 month) either clamps to its
 * last day or rolls into the next month: callers pick whichever errs on the safe side.
 */
export function addMonths(t: Date, months: number, shortMonth: 'clamp' | 'roll'): Date {
  const d = new Date(t.getTime());
  const day = d.getUTCDate();
  d.setUTCDate(1);
  d.setUTCMonth(d.getUTCMonth() + months);
  const last = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
  d.setUTCDate(shortMonth === 'clamp' ? Math.min(day, last) : day);
  return d;
}

interface Row {
  id: string;
  subject: string;
  version: number;
  signed_by: string;
  signed_at: string;
  review_by: string;
  retain_until: string;
  created_at: string;
  latest: 0 | 1;
}

const LATEST = '(SELECT max(q.version) FROM pias q WHERE q.subject = p.subject)';
const COLS = `p.id, p.subject, p.version, p.signed_by, p.signed_at, p.review_by, p.retain_until, p.created_at, p.version = ${LATEST} AS latest`;

function nonEmpty(value: unknown): value is string {
  return typeof value === 'string' && value.trim() !== '';
}

function isoDate(value: string, field: string): string {
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new CamwardenError('input.invalid', `${field} is not a date: ${value}`, { field });
  return new Date(t).toISOString();
}

export function createPiaRegister(deps: PiaRegisterDeps): PiaRegister {
  const { db, audit, outbox, clock, ids, retentionYears, reviewMonths } = deps;
  for (const [name, v] of [['retentionYears', retentionYears], ['reviewMonths', reviewMonths]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new CamwardenError('config.invalid', `${name} must be a positive whole number, got ${v}`);
  }

  const maxVersion = db.prepare<[string], { v: number | null }>('SELECT max(version) AS v FROM pias WHERE subject = ?');
  const countSubject = db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM pias WHERE subject = ?');
  const insertPia = db.prepare(
    'INSERT INTO pias (id, subject, version, content, signed_by, signed_at, review_by, retain_until, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const insertCamera = db.prepare('INSERT INTO pia_cameras (pia_id, camera_id) VALUES (?, ?)');
  const byId = db.prepare<[string], Row>(`SELECT ${COLS} FROM pias p WHERE p.id = ?`);
  const all = db.prepare<[], Row>(`SELECT ${COLS} FROM pias p ORDER BY p.subject, p.version`);
  const contentOf = db.prepare<[string], { content: string }>('SELECT content FROM pias WHERE id = ?');
  const camerasOf = db.prepare<[string], { camera_id: string }>('SELECT camera_id FROM pia_cameras WHERE pia_id = ? ORDER BY camera_id');
  // Starts from pia_cameras_camera (migration 020); the latest-version test is a lookup in UNIQUE (subject, version).
  const current = db.prepare<[string, string, string], Row>(
    `SELECT ${COLS} FROM pia_cameras pc JOIN pias p ON p.id = pc.pia_id
     WHERE pc.camera_id = ? AND p.review_by > ? AND p.signed_at <= ? AND p.version = ${LATEST}
     ORDER BY p.signed_at DESC, p.rowid DESC LIMIT 1`,
  );
  const purgeable = db.prepare<[string], { id: string }>(
    `SELECT p.id FROM pias p WHERE p.retain_until <= ? AND p.version < ${LATEST} ORDER BY p.subject, p.version`,
  );
  const deleteCameras = db.prepare('DELETE FROM pia_cameras WHERE pia_id = ?');
  const deletePia = db.prepare('DELETE FROM pias WHERE id = ?');

  // Everything but `current` is immutable, so the per-frame lookup does not re-read or re-parse it.
  const fixed = new Map<string, { content: PiaContent; cameras: readonly string[] }>();
  function fixedOf(id: string): { content: PiaContent; cameras: readonly string[] } {
    let f = fixed.get(id);
    if (f === undefined) {
      const content = Object.freeze(JSON.parse(contentOf.get(id)?.content ?? 'null') as PiaContent);
      f = { content, cameras: Object.freeze(camerasOf.all(id).map((r) => r.camera_id)) };
      fixed.set(id, f);
    }
    return f;
  }

  function toPia(row: Row, now: Date): Pia {
    const f = fixedOf(row.id);
    return {
      id: row.id,
      subject: row.subject,
      version: row.version,
      content: f.content,
      cameras: [...f.cameras],
      signedBy: row.signed_by,
      signedAt: row.signed_at,
      reviewBy: row.review_by,
      retainUntil: row.retain_until,
      createdAt: row.created_at,
      current: row.latest === 1 && now.getTime() < Date.parse(row.review_by),
    };
  }

  function mustGet(id: string): Row {
    const row = byId.get(id);
    if (row === undefined) throw new CamwardenError('not-found', `impact assessment ${id} not found`);
    return row;
  }

  function report(row: Row, removed: boolean): void {
    const body = { pia: row.id, subject: row.subject, version: row.version, cameras: [...fixedOf(row.id).cameras], reviewBy: row.review_by };
    outbox.add('pia-changed', removed ? { ...body, removed: true } : body);
  }

  // Immediate: the version number is read and then written, and the CLI may add from another process.
  const tx = <A extends unknown[], R>(fn: (...args: A) => R) => writeTransaction(db, fn);

  const addTx = tx((input: Omit<Row, 'id' | 'version' | 'created_at' | 'latest'>, content: PiaContent, cameras: string[], actor: string): Pia => {
    const id = ids.next();
    const version = (maxVersion.get(input.subject)?.v ?? 0) + 1;
    const row: Row = { ...input, id, version, created_at: clock.now().toISOString(), latest: 1 };
    insertPia.run(id, row.subject, version, JSON.stringify(content), row.signed_by, row.signed_at, row.review_by, row.retain_until, row.created_at);
    for (const c of cameras) insertCamera.run(id, c);
    audit.append({
      actor,
      action: 'pia.add',
      object: id,
      decision: 'done',
      detail: { subject: row.subject, version, cameras, reviewBy: row.review_by, retainUntil: row.retain_until },
    });
    report(row, false);
    return toPia(row, clock.now());
  });

  // A savepoint of its own, so purgeExpired can skip one assessment and go on with the others.
  const removeOne = db.transaction((row: Row, actor: string, why: 'remove' | 'purge'): void => {
    const cameras = [...fixedOf(row.id).cameras];
    deleteCameras.run(row.id);
    try {
      deletePia.run(row.id);
    } catch (error) {
      if ((error as { code?: string }).code !== 'SQLITE_CONSTRAINT_FOREIGNKEY') throw error;
      // It documents the lawfulness of images still kept under it.
      throw new CamwardenError('conflict', `impact assessment ${row.id} is still referred to by stored images`, { cause: error });
    }
    audit.append({ actor, action: 'pia.remove', object: row.id, decision: 'done', detail: { subject: row.subject, version: row.version, cameras, why } });
    report(row, true);
  });

  const removeTx = tx((id: string, actor: string): void => {
    const row = mustGet(id);
    // Measures Art. 9: the assessment is kept at least until retainUntil.
    if (clock.now().getTime() < Date.parse(row.retain_until)) {
      throw new CamwardenError('pia.retained', `impact assessment ${id} must be kept until ${row.retain_until} (Measures Art. 9)`);
    }
    // Removing the latest first would make a superseded version the latest, and current again.
    if (row.latest === 1 && (countSubject.get(row.subject)?.n ?? 0) > 1) {
      throw new CamwardenError('conflict', `impact assessment ${id} is the latest of ${row.subject}; remove its earlier versions first`);
    }
    removeOne(row, actor, 'remove');
    fixed.delete(id);
  });

  const purgeTx = tx((now: Date, actor: string): string[] => {
    const removed: string[] = [];
    for (const { id } of purgeable.all(now.toISOString())) {
      try {
        removeOne(mustGet(id), actor, 'purge');
        removed.push(id);
      } catch (error) {
        if (!(error instanceof CamwardenError && error.code === 'conflict')) throw error;
      }
    }
    return removed;
  });

  return {
    add(input, actor) {
      if (typeof input?.subject !== 'string' || !new RegExp(ID_PATTERN).test(input.subject)) {
        throw new CamwardenError('input.invalid', `subject must be an id like north-gate-face (pattern ${ID_PATTERN})`, { field: 'subject' });
      }
      // Measures Art. 9: all four elements, every missing one named at once.
      const missing = PIA_ELEMENTS.filter((e) => !nonEmpty(input.content?.[e])).map((e) => `content.${e}`);
      if (missing.length > 0) {
        throw new CamwardenError('pia.incomplete', `impact assessment is missing elements required by Measures Art. 9: ${missing.join(', ')}`, {
          field: missing[0],
          details: { missing },
        });
      }
      const cameras = Array.isArray(input.cameras) ? [...new Set(input.cameras)].sort() : [];
      if (cameras.length === 0 || !cameras.every(nonEmpty)) {
        throw new CamwardenError('input.invalid', 'an impact assessment covers at least one camera', { field: 'cameras' });
      }
      const known = deps.knownCameras?.();
      const unknown = known ? cameras.filter((c) => !known.includes(c)) : [];
      if (unknown.length > 0) throw new CamwardenError('input.invalid', `unknown camera(s): ${unknown.join(', ')}`, { field: 'cameras' });
      if (!nonEmpty(input.signedBy)) throw new CamwardenError('input.invalid', 'an impact assessment is signed by a named person', { field: 'signedBy' });
      const now = clock.now();
      const signedAt = input.signedAt === undefined ? now.toISOString() : isoDate(input.signedAt, 'signedAt');
      if (Date.parse(signedAt) > now.getTime()) throw new CamwardenError('input.invalid', 'signedAt is in the future', { field: 'signedAt' });
      // Review errs early (clamp); retention errs late (roll), so "at least N years" always holds.
      const reviewBy = input.reviewBy === undefined ? addMonths(new Date(signedAt), reviewMonths, 'clamp').toISOString() : isoDate(input.reviewBy, 'reviewBy');
      if (Date.parse(reviewBy) <= Date.parse(signedAt)) throw new CamwardenError('input.invalid', 'reviewBy must be after signedAt', { field: 'reviewBy' });
      const retainUntil = addMonths(new Date(signedAt), retentionYears * 12, 'roll').toISOString();
      // Only the four elements are kept: extra keys from an untyped body are not part of the assessment.
      const content = Object.fromEntries(PIA_ELEMENTS.map((e) => [e, input.content[e]])) as unknown as PiaContent;
      const row = { subject: input.subject, signed_by: input.signedBy.trim(), signed_at: signedAt, review_by: reviewBy, retain_until: retainUntil };
      return addTx(row, content, cameras, actor);
    },

    get: (id) => toPia(mustGet(id), clock.now()),

    list() {
      const now = clock.now();
      return all.all().map((r) => toPia(r, now));
    },

    currentFor(cameraId, now) {
      const t = now.toISOString();
      const row = current.get(cameraId, t, t);
      return row === undefined ? undefined : toPia(row, now);
    },

    purgeExpired(now, actor) {
      const removed = purgeTx(now, actor);
      for (const id of removed) fixed.delete(id);
      return removed;
    },

    remove: (id, actor) => removeTx(id, actor),
  };
}
