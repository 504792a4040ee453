import Database from 'better-sqlite3';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CamwardenError } from '../errors.js';

export type Db = Database.Database;

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const here = dirname(fileURLToPath(import.meta.url));

/** Finds migrations/ beside this file, or in the source tree when running from dist/. */
function migrationsDir(): string {
  const candidates = [join(here, 'migrations'), join(here, '..', '..', '..', 'agent', 'store', 'migrations')];
  for (const dir of candidates) {
    try {
      if (readdirSync(dir).some((f) => f.endsWith('.sql'))) return dir;
    } catch {
      // try the next one
    }
  }
  throw new CamwardenError('internal', `migrations folder not found (looked in ${candidates.join(', ')})`);
}

export function loadMigrations(dir = migrationsDir()): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d+-[\w-]+\.sql$/.test(f))
    .map((f) => ({ version: Number(f.split('-')[0]), name: f, sql: readFileSync(join(dir, f), 'utf8') }))
    .sort((a, b) => a.version - b.version);
}

/**
 * Runs every pending migration in one transaction, tracked by PRAGMA user_version.
 * A database written by a newer camwarden is refused rather than guessed at.
 */
export function migrate(db: Db, migrations: Migration[] = loadMigrations()): { from: number; to: number } {
  const from = db.pragma('user_version', { simple: true }) as number;
  const latest = migrations.at(-1)?.version ?? 0;
  if (from > latest) {
    throw new CamwardenError(
      'store.newer-schema',
      `database schema version ${from} is newer than this camwarden understands (${latest}); upgrade camwarden`,
    );
  }
  const pending = migrations.filter((m) => m.version > from);
  if (pending.length === 0) return { from, to: from };
  db.transaction(() => {
    for (const m of pending) db.exec(m.sql);
    db.pragma(`user_version = ${latest}`);
  }).immediate();
  return { from, to: latest };
}

export interface OpenDatabaseOptions {
  readonly?: boolean;
  /**
   * NORMAL (default) in WAL mode survives a process crash and stays consistent across power loss
   * (a blob whose row was lost is removed by reconcile); FULL also keeps the last commits.
   */
  synchronous?: 'FULL' | 'NORMAL';
}

export function openDatabase(file: string, options: OpenDatabaseOptions = {}): Db {
  mkdirSync(dirname(file), { recursive: true, mode: 0o750 });
  let db: Db;
  try {
    db = new Database(file, { readonly: options.readonly ?? false, timeout: 5000 });
  } catch (error) {
    throw new CamwardenError('store.io', `cannot open database ${file}: ${(error as Error).message}`, { cause: error });
  }
  if (!options.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
  }
  db.pragma('foreign_keys = ON');
  if (!options.readonly) migrate(db);
  return db;
}

/**
 * A write transaction that reads before it writes: BEGIN IMMEDIATE on its own, so another process
 * (the operator's CLI) cannot slip in between the read and the write. Inside a caller's
 * transaction the body simply runs there: no savepoint, one commit for the whole unit.
 */
export function writeTransaction<A extends unknown[], R>(db: Db, fn: (...args: A) => R): (...args: A) => R {
  const t = db.transaction(fn);
  return (...args) => (db.inTransaction ? fn(...args) : t.immediate(...args));
}
