import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../agent/log.js';
import { startCheckpointer } from '../../agent/store/checkpointer.js';
import { openDatabase, type Db } from '../../agent/store/open-database.js';
import { waitFor } from '../helpers/wait-for.js';

let dir: string;
let db: Db;
let file: string;
const logLines: string[] = [];
const log = createLogger('debug', new Writable({ write(chunk, _enc, cb) { logLines.push(String(chunk)); cb(); } }));

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'camwarden-ckpt-'));
  file = join(dir, 'agent.db');
  db = openDatabase(file);
  db.exec('CREATE TABLE filler (n INTEGER PRIMARY KEY, pad TEXT NOT NULL)');
  logLines.length = 0;
});
afterEach(() => {
  if (db.open) db.close();
  rmSync(dir, { recursive: true, force: true });
});

const autoCheckpoint = () => db.pragma('wal_autocheckpoint', { simple: true }) as number;
function fill(rows: number): void {
  const insert = db.prepare('INSERT INTO filler (pad) VALUES (?)');
  for (let i = 0; i < rows; i++) insert.run('x'.repeat(2000)); // one commit per row, as captures are
}

describe('WAL checkpoints on their own thread', () => {
  it('takes checkpointing off the agent connection and still moves the WAL into the database file', async () => {
    const checkpoints = startCheckpointer({ db, file, intervalMs: 50, log });
    try {
      expect(autoCheckpoint()).toBe(0);
      const before = statSync(file).size;
      fill(2000); // ~4 MB through the WAL; with no checkpoint at all the database file would not grow
      await waitFor('the database file to receive the WAL', () => statSync(file).size > before + 3_000_000, 10_000);
      expect(db.prepare('SELECT count(*) FROM filler').pluck().get()).toBe(2000);
    } finally {
      await checkpoints.stop();
    }
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(logLines.filter((l) => l.includes('"level":40'))).toEqual([]);
  });

  it('hands checkpointing back to the agent connection when the thread cannot work, and says so', async () => {
    const checkpoints = startCheckpointer({ db, file: join(dir, 'missing', 'agent.db'), intervalMs: 50, log });
    try {
      await waitFor('automatic checkpoints to be back on', () => autoCheckpoint() === 1000, 10_000);
      expect(logLines.join('')).toContain('checkpoint thread ended');
    } finally {
      await checkpoints.stop();
    }
  });

  it('stops promptly, and a second stop is harmless', async () => {
    const checkpoints = startCheckpointer({ db, file, intervalMs: 60_000, log });
    fill(10);
    const t0 = performance.now();
    await checkpoints.stop();
    await checkpoints.stop();
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(autoCheckpoint()).toBe(1000);
    expect(logLines.join('')).not.toContain('checkpoint thread ended');
  });
});
