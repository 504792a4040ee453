import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBlobStore, decryptBlob, FolderSync, writeFileAtomic } from '../../agent/store/blob-store.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'camwarden-blobs-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const openFds = () => readdirSync('/proc/self/fd').length;

describe('blob store', () => {
  it('writes pieces encrypted, 0600, under a shard, and reads back the plaintext', async () => {
    const key = randomBytes(32);
    const store = createBlobStore({ dir, key });
    try {
      const pieces = [randomBytes(10), randomBytes(70_000), Buffer.from('tail')];
      const file = await store.write('abcdef0123', pieces);
      expect(file).toBe('ab/abcdef0123.cwb');
      const raw = readFileSync(join(dir, file));
      expect(raw.subarray(0, 4).toString()).toBe('CWB1');
      expect(raw.includes(pieces[1]!.subarray(0, 64))).toBe(false);
      expect(statSync(join(dir, file)).mode & 0o777).toBe(0o600);
      expect(store.read(file).equals(Buffer.concat(pieces))).toBe(true);
      expect(store.list()).toEqual([file]);
      expect(readdirSync(join(dir, 'ab'))).toEqual(['abcdef0123.cwb']);
    } finally {
      store.close();
    }
  });

  it('binds the name: a blob copied over another one fails to decrypt', async () => {
    const key = randomBytes(32);
    const store = createBlobStore({ dir, key });
    const a = await store.write('aaaaaaaa01', Buffer.from('first'));
    const b = await store.write('aaaaaaaa02', Buffer.from('second'));
    writeFileSync(join(dir, b), readFileSync(join(dir, a)));
    expect(() => store.read(b)).toThrow(/failed authentication/);
    expect(() => decryptBlob(randomBytes(32), 'aaaaaaaa01', readFileSync(join(dir, a)))).toThrow(/failed authentication/);
    store.close();
  });

  it('keeps shard folders open for fsync, no more than its limit, and closes them', async () => {
    const before = openFds();
    const folders = new FolderSync(2);
    for (const shard of ['s1', 's2', 's3', 's4', 's5']) {
      mkdirSync(join(dir, shard));
      await writeFileAtomic(dir, `${shard}/f.bin`, Buffer.from(shard), folders);
      await writeFileAtomic(dir, `${shard}/g.bin`, Buffer.from(shard), folders);
      expect(openFds() - before).toBeLessThanOrEqual(2);
    }
    expect(openFds() - before).toBe(2);
    folders.close();
    expect(openFds()).toBe(before);
    expect(readFileSync(join(dir, 's5/g.bin'), 'utf8')).toBe('s5');
  });

  it('leaves neither a temp file nor an open descriptor when the write fails', async () => {
    const before = openFds();
    mkdirSync(join(dir, 'taken.bin')); // a folder where the file should go: rename fails
    writeFileSync(join(dir, 'taken.bin', 'x'), 'x');
    await expect(writeFileAtomic(dir, 'taken.bin', randomBytes(1000))).rejects.toThrow();
    await expect(writeFileAtomic(dir, 'missing/f.bin', randomBytes(1000))).rejects.toThrow(/ENOENT/);
    expect(readdirSync(dir)).toEqual(['taken.bin']);
    expect(openFds()).toBe(before);
  });

  it('sweeps temp files left by a crash in the root and in shards', async () => {
    const store = createBlobStore({ dir, key: randomBytes(32) });
    const kept = await store.write('cccccccc01', Buffer.from('kept'));
    writeFileSync(join(dir, 'cc', '.tmp-cccccccc02.cwb-123'), 'partial');
    writeFileSync(join(dir, '.tmp-x-1'), 'partial');
    expect(store.sweepTemp()).toBe(2);
    expect(store.list()).toEqual([kept]);
    store.close();
  });
});
