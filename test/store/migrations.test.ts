import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadMigrations, migrate, type Db } from '../../agent/store/open-database.js';

let dir: string;
let db: Db;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'camwarden-migrate-'));
  db = new Database(join(dir, 'agent.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const IMAGE = `INSERT INTO images (id, camera_id, notice_id, pia_id, captured_at, stored_at, purpose, original_sha256, bytes, width, height, retain_until, blob_file)
               VALUES (?, 'cam-1', 'n-1', NULL, '2026-01-01T00:00:00Z', '2026-01-01T00:00:01Z', 'public-safety', ?, 10, 2, 2, '2026-02-01T00:00:00Z', ?)`;

describe('migration 040: leaner capture indexes', () => {
  it('keeps every image and outbox row, drops the two unique indexes and checks the blob name instead', () => {
    const all = loadMigrations();
    migrate(db, all.filter((m) => m.version <= 30));
    db.prepare("INSERT INTO notices (id, created_at, state, content) VALUES ('n-1', '2026-01-01T00:00:00Z', 'verified', '{}')").run();
    db.prepare(IMAGE).run('ab123456', 'a'.repeat(64), 'ab/ab123456.cwb');
    db.prepare(IMAGE).run('cd123456', 'b'.repeat(64), 'cd/cd123456.cwb');
    db.prepare("UPDATE images SET legal_hold = 1, hold_reason = 'case 7' WHERE id = 'cd123456'").run();
    db.prepare("INSERT INTO outbox (seq, id, kind, ts, envelope, sent_at) VALUES (1, 'e-1', 'image-stored', 't', '{}', 't'), (2, 'e-2', 'image-stored', 't', '{}', NULL)").run();
    const before = { images: db.prepare('SELECT * FROM images ORDER BY id').all(), outbox: db.prepare('SELECT * FROM outbox ORDER BY seq').all() };

    expect(migrate(db, all)).toEqual({ from: 30, to: all.at(-1)!.version });
    expect(db.prepare('SELECT * FROM images ORDER BY id').all()).toEqual(before.images);
    expect(db.prepare('SELECT * FROM outbox ORDER BY seq').all()).toEqual(before.outbox);
    const indexes = (table: string) => (db.prepare(`PRAGMA index_list(${table})`).all() as { name: string }[]).map((i) => i.name).sort();
    expect(indexes('images')).toEqual(['images_camera_time', 'images_expiry', 'sqlite_autoindex_images_1']);
    expect(indexes('outbox')).toEqual(['outbox_pending']);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(db.pragma('foreign_key_check')).toEqual([]);

    // A row naming another image's file is refused (the blob name follows from the id).
    expect(() => db.prepare(IMAGE).run('ef123456', 'c'.repeat(64), 'ab/ab123456.cwb')).toThrow(/CHECK constraint failed/);
    expect(() => db.prepare(IMAGE).run('ab123456', 'c'.repeat(64), 'ab/ab123456.cwb')).toThrow(/UNIQUE constraint failed: images.id/);
    expect(() => db.prepare(IMAGE).run('gh123456', 'c'.repeat(64), 'xx/n-1')).toThrow(/FOREIGN KEY|CHECK/);
    // Still refuses a notice that does not exist.
    expect(() => db.prepare(IMAGE.replace("'n-1'", "'n-missing'")).run('ij123456', 'c'.repeat(64), 'ij/ij123456.cwb')).toThrow(/FOREIGN KEY/);
  });
});
