import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { closeSync, fsync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writevSync } from 'node:fs';
import { promisify } from 'node:util';
import { basename, dirname, join } from 'node:path';
import { CamwardenError } from '../errors.js';

/**
 * Encrypted blob files (Shenzhen Art. 77: encrypted storage of sensitive data).
 * Layout: "CWB1" | nonce (12) | ciphertext | GCM tag (16). The blob's name is bound in as
 * additional data, so a blob copied over another one fails to decrypt.
 */
const MAGIC = Buffer.from('CWB1');
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const TEMP_PREFIX = '.tmp-';
const fsyncAsync = promisify(fsync);

export interface BlobStore {
  /** Encrypts and writes atomically (temp file, fsync, rename, fsync dir). Returns the relative file name. */
  write(name: string, plaintext: Buffer | readonly Buffer[]): Promise<string>;
  read(file: string): Buffer;
  remove(file: string): void;
  exists(file: string): boolean;
  /** Every committed blob file, relative names. */
  list(): string[];
  /** Removes temp files left by a crash mid-write (in the root and every shard); returns how many. */
  sweepTemp(): number;
  /** Closes the folders kept open for fsync; writes after this still work (they reopen them). */
  close(): void;
  readonly dir: string;
}

/** The blob as pieces (header, ciphertext of each plaintext piece, tag), so nothing large is copied twice. */
export function encryptBlobParts(key: Buffer, name: string, plaintext: Buffer | readonly Buffer[]): Buffer[] {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.from(name));
  const out = [MAGIC, nonce];
  for (const piece of Buffer.isBuffer(plaintext) ? [plaintext] : plaintext) out.push(cipher.update(piece));
  cipher.final();
  out.push(cipher.getAuthTag());
  return out;
}

export function encryptBlob(key: Buffer, name: string, plaintext: Buffer | readonly Buffer[]): Buffer {
  return Buffer.concat(encryptBlobParts(key, name, plaintext));
}

export function decryptBlob(key: Buffer, name: string, blob: Buffer): Buffer {
  if (blob.length < MAGIC.length + NONCE_BYTES + TAG_BYTES || !blob.subarray(0, 4).equals(MAGIC)) {
    throw new CamwardenError('store.io', `blob ${name} is not a camwarden blob`);
  }
  const nonce = blob.subarray(4, 4 + NONCE_BYTES);
  const tag = blob.subarray(blob.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAAD(Buffer.from(name));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(blob.subarray(4 + NONCE_BYTES, blob.length - TAG_BYTES)), decipher.final()]);
  } catch (error) {
    throw new CamwardenError('store.io', `blob ${name} failed authentication (altered, or another data key)`, { cause: error });
  }
}

/**
 * Keeps folders open for fsync, so a durable write does not open and close its folder each time.
 * At most `limit` stay open (least recently used closed first).
 */
export class FolderSync {
  private readonly fds = new Map<string, number>();
  constructor(private readonly limit = 256) {}

  async sync(folder: string): Promise<void> {
    let fd = this.fds.get(folder);
    if (fd === undefined) {
      fd = openSync(folder, 'r');
      this.fds.set(folder, fd);
      if (this.fds.size > this.limit) {
        const [oldest, oldFd] = this.fds.entries().next().value as [string, number];
        this.fds.delete(oldest);
        closeSync(oldFd);
      }
    } else {
      this.fds.delete(folder); // re-inserted: most recently used last
      this.fds.set(folder, fd);
    }
    await fsyncAsync(fd);
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }
}

/**
 * Writes bytes atomically and durably: a temp file in the same folder, fsync, rename, fsync of
 * the folder. Same-folder rename keeps it one directory update.
 *
 * Only the two fsyncs go to the thread pool: open, write (into the page cache), close and rename
 * are quick system calls made directly, because every trip through the pool costs 50-100 us of
 * wake-ups on a small box, several times what those calls themselves take (scripts/bench).
 */
export async function writeFileAtomic(dir: string, relative: string, bytes: Buffer | readonly Buffer[], folders?: FolderSync): Promise<void> {
  const final = join(dir, relative);
  const folder = dirname(final);
  const temp = join(folder, `${TEMP_PREFIX}${basename(final)}-${process.pid}`);
  const fd = openSync(temp, 'w', 0o600);
  let open = true;
  try {
    const pieces = Buffer.isBuffer(bytes) ? [bytes] : [...bytes];
    let left = pieces.reduce((n, p) => n + p.length, 0);
    while (left > 0) {
      const n = writevSync(fd, pieces);
      left -= n;
      if (left > 0) trimWritten(pieces, n);
    }
    await fsyncAsync(fd);
    open = false;
    closeSync(fd);
    renameSync(temp, final);
  } catch (error) {
    if (open) closeSync(fd);
    rmSync(temp, { force: true });
    throw error;
  }
  const sync = folders ?? new FolderSync(1);
  try {
    await sync.sync(folder);
  } finally {
    if (sync !== folders) sync.close();
  }
}

/** Drops what a short writev wrote from the front of the piece list. */
function trimWritten(pieces: Buffer[], n: number): void {
  while (n > 0 && pieces.length > 0) {
    const first = pieces[0]!;
    if (first.length <= n) {
      n -= first.length;
      pieces.shift();
    } else {
      pieces[0] = first.subarray(n);
      n = 0;
    }
  }
}

export function createBlobStore({ dir, key }: { dir: string; key: Buffer }): BlobStore {
  if (key.length !== 32) throw new CamwardenError('keys.invalid', 'data key must be 32 bytes (AES-256)');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const shardsMade = new Set<string>();
  const folders = new FolderSync();

  function fileFor(name: string): string {
    if (!/^[A-Za-z0-9_-]{8,}$/.test(name)) throw new CamwardenError('input.invalid', `bad blob name ${name}`);
    return `${name.slice(0, 2)}/${name}.cwb`;
  }

  return {
    dir,
    async write(name, plaintext) {
      const file = fileFor(name);
      const shard = file.slice(0, 2);
      if (!shardsMade.has(shard)) {
        mkdirSync(join(dir, shard), { recursive: true, mode: 0o700 });
        shardsMade.add(shard);
      }
      await writeFileAtomic(dir, file, encryptBlobParts(key, name, plaintext), folders);
      return file;
    },
    read(file) {
      const name = file.replace(/^.*\//, '').replace(/\.cwb$/, '');
      return decryptBlob(key, name, readFileSync(join(dir, file)));
    },
    remove(file) {
      rmSync(join(dir, file), { force: true });
    },
    exists(file) {
      try {
        return statSync(join(dir, file)).isFile();
      } catch {
        return false;
      }
    },
    list() {
      const out: string[] = [];
      for (const shard of readdirSync(dir, { withFileTypes: true })) {
        if (!shard.isDirectory()) continue;
        for (const f of readdirSync(join(dir, shard.name))) if (f.endsWith('.cwb')) out.push(`${shard.name}/${f}`);
      }
      return out;
    },
    close: () => folders.close(),
    sweepTemp() {
      let n = 0;
      const folders = [dir, ...readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(dir, e.name))];
      for (const folder of folders) {
        for (const f of readdirSync(folder)) {
          if (f.startsWith(TEMP_PREFIX)) {
            rmSync(join(folder, f), { force: true });
            n += 1;
          }
        }
      }
      return n;
    },
  };
}
