import Database from 'better-sqlite3';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildServices } from '../../agent/agent.js';
import { verifyTaggedJpeg } from '../../agent/capture/image-tag.js';
import { silentLogger } from '../../agent/log.js';
import { reconcileStore } from '../../agent/store/reconcile.js';
import { makeJpeg } from '../fixtures/jpegs.js';
import { spawnCli } from '../helpers/cli.js';
import { makeAgentEnv, verifiedNotice, type AgentEnv } from '../helpers/agent-env.js';

let env: AgentEnv;
afterEach(() => env?.cleanup());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a process killed with SIGKILL in the middle of ingesting', () => {
  it('leaves, after reconcile, no file without a row, no row without a file, and an intact audit chain', async () => {
    env = makeAgentEnv({ start: new Date().toISOString() });
    await verifiedNotice(env.services, ['cam-north-gate']);
    env.services.close();
    const jpeg = join(env.dir, 'frame.jpg');
    writeFileSync(jpeg, await makeJpeg({ width: 1920, height: 1080, seed: 7 }));

    const child = spawnCli(['--config', env.configPath, 'ingest', '--camera', 'cam-north-gate', ...Array(400).fill(jpeg)]);
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const dbFile = join(env.dir, 'data', 'camwarden.db');
    const ro = new Database(dbFile, { readonly: true, fileMustExist: true });
    const deadline = Date.now() + 45_000;
    let stored = 0;
    while (Date.now() < deadline && stored < 25) {
      await sleep(20);
      stored = (ro.prepare('SELECT count(*) AS n FROM images').get() as { n: number }).n;
    }
    ro.close();
    expect(stored, `child never stored images: ${stderr}`).toBeGreaterThanOrEqual(25);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(child.signalCode).toBe('SIGKILL');

    const s = buildServices({ configPath: env.configPath, log: silentLogger, env: {} });
    try {
      const result = reconcileStore(s);
      const rows = s.images.list({ limit: 10_000 });
      const files = new Set(s.blobs.list());
      const evidence = s.notices.list().flatMap((n) => (n.evidence ? [n.evidence.file] : []));
      expect(rows.length).toBeGreaterThanOrEqual(stored);
      expect(rows.length).toBeLessThan(400);
      for (const r of rows) expect(files.has(r.blobFile)).toBe(true);
      expect(files.size).toBe(rows.length + evidence.length);
      expect(readdirSync(s.blobs.dir, { recursive: true }).map(String).filter((f) => f.includes('.tmp-'))).toEqual([]);
      expect(s.audit.verify().ok).toBe(true);
      expect(s.audit.tail(100_000).filter((a) => a.action === 'image.store')).toHaveLength(rows.length);
      // Every surviving image decrypts and its tag verifies.
      for (const r of rows.slice(-5)) {
        const v = verifyTaggedJpeg(s.blobs.read(r.blobFile), () => s.keys.publicKey);
        expect(v.status).toBe('valid');
      }
      expect(result.rowsWithoutFile).toEqual([]);
    } finally {
      s.close();
    }
  }, 90_000);
});
