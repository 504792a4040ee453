import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../log.js';
import type { Db } from './open-database.js';

/**
 * WAL checkpoints on their own thread. SQLite's automatic checkpoint runs inside whichever commit
 * crosses the threshold, and a checkpoint fsyncs the WAL and the database file: on the agent's one
 * event-loop thread that stalled every ~140th capture for several milliseconds (the p99 of
 * `npm run bench -- ingest`). Here a worker with its own connection runs a PASSIVE checkpoint every
 * `intervalMs` (it never blocks the agent's writes), and the agent's connection stops checkpointing.
 * Should the worker die, the agent's connection checkpoints again by itself: the WAL never grows
 * without bound.
 */
export interface Checkpointer {
  /** Runs a last checkpoint and ends the thread. */
  stop(): Promise<void>;
}

const AUTO_CHECKPOINT_PAGES = 1000; // SQLite's default

// CommonJS run with eval, so the same code works from the TypeScript sources (tests) and from dist.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.sqlite);
const db = new Database(workerData.file, { fileMustExist: true, timeout: 2000 });
db.pragma('synchronous = NORMAL');
db.pragma('cache_size = -256');
const checkpoint = () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (error) {
    parentPort.postMessage({ ok: false, error: String(error && error.message || error) });
  }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.postMessage({ stopped: true });
  parentPort.close();
});
`;

type Message = { stopped: true } | { ok: false; error: string };

export function startCheckpointer({ db, file, intervalMs = 1000, log }: { db: Db; file: string; intervalMs?: number; log: Logger }): Checkpointer {
  const sqlite = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER, {
    eval: true,
    workerData: { sqlite, file, intervalMs },
    resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 2 },
  });
  db.pragma('wal_autocheckpoint = 0');
  let stopping = false;
  let failures = 0;
  const fallBack = (why: string) => {
    if (db.open) db.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
    if (!stopping) log.warn({ why }, 'checkpoint thread ended; the database checkpoints on the main thread again');
  };
  const stopped = new Promise<void>((resolve) => {
    worker.on('message', (m: Message) => {
      if ('stopped' in m) resolve();
      else if (++failures % 60 === 1) log.warn({ error: m.error, failures }, 'WAL checkpoint failed');
    });
    worker.on('error', (error) => fallBack(error.message));
    worker.on('exit', (code) => {
      fallBack(`exit ${code}`);
      resolve();
    });
  });
  worker.unref();
  return {
    async stop() {
      if (stopping) return stopped;
      stopping = true;
      worker.ref(); // the last checkpoint keeps the process alive until it is done
      worker.postMessage('stop');
      await stopped;
      await worker.terminate();
    },
  };
}
