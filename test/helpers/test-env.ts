import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAuditLog, type AuditLog } from '../../agent/audit/audit-log.js';
import { manualClock, type Ids } from '../../agent/clock.js';
import { initKeys, loadKeysFrom, type AgentKeys } from '../../agent/keys/agent-keys.js';
import { createOutbox, type Outbox } from '../../agent/reporting/outbox.js';
import { createBlobStore, type BlobStore } from '../../agent/store/blob-store.js';
import { openDatabase, type Db } from '../../agent/store/open-database.js';

/**
 * The store-level peers most services need, real and in a temp dir: keys, a migrated SQLite
 * database, the encrypted blob store, the audit log and the outbox. Lighter than
 * makeAgentEnv (no config, no composition root) for testing one service at a time.
 */
export const TEST_START = '2026-01-01T00:00:00.000Z';
export const TEST_AGENT_ID = 'agent-test';

export interface TestEnv {
  dir: string;
  db: Db;
  clock: ReturnType<typeof manualClock>;
  ids: Ids;
  keys: AgentKeys;
  audit: AuditLog;
  outbox: Outbox;
  blobs: BlobStore;
  cleanup(): void;
}

/** ids `id-000001`, `id-000002`, ... in call order. */
export function sequentialIds(prefix = 'id'): Ids {
  let n = 0;
  return { next: () => `${prefix}-${String(++n).padStart(6, '0')}` };
}

export function makeTestEnv(opts: { start?: string; agentId?: string } = {}): TestEnv {
  const dir = mkdtempSync(join(tmpdir(), 'camwarden-test-'));
  let db: Db | undefined;
  try {
    initKeys(join(dir, 'keys'));
    const keys = loadKeysFrom(join(dir, 'keys'));
    db = openDatabase(join(dir, 'agent.db'));
    const clock = manualClock(opts.start ?? TEST_START);
    const ids = sequentialIds();
    const openDb = db;
    const blobs = createBlobStore({ dir: join(dir, 'blobs'), key: keys.dataKey });
    return {
      dir,
      db,
      clock,
      ids,
      keys,
      audit: createAuditLog({ db, clock }),
      outbox: createOutbox({ db, keys, agentId: opts.agentId ?? TEST_AGENT_ID, clock, ids }),
      blobs,
      cleanup() {
        blobs.close();
        if (openDb.open) openDb.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    db?.close();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
