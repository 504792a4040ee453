import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sign, verify } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { DATA_KEY_FILE, initKeys, loadKeys, loadKeysFrom, SIGNING_KEY_FILE } from '../../agent/keys/agent-keys.js';
import { CamwardenError } from '../../agent/errors.js';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return (error as CamwardenError).code;
  }
  return undefined;
};

describe('agent keys', () => {
  it('creates an Ed25519 signing key and a 32-byte data key, readable only by the owner', () => {
    dir = mkdtempSync(join(tmpdir(), 'cw-keys-'));
    const r = initKeys(join(dir, 'k'));
    expect(r.created).toBe(true);
    for (const f of [SIGNING_KEY_FILE, DATA_KEY_FILE]) expect(statSync(join(dir, 'k', f)).mode & 0o777).toBe(0o600);
    const keys = loadKeysFrom(join(dir, 'k'));
    expect(keys.dataKey).toHaveLength(32);
    expect(keys.keyId).toBe(r.keyId);
    const sig = sign(null, Buffer.from('x'), keys.signingKey);
    expect(verify(null, Buffer.from('x'), keys.publicKey, sig)).toBe(true);
  });

  it('never overwrites existing keys, and --if-missing leaves them alone', () => {
    dir = mkdtempSync(join(tmpdir(), 'cw-keys-'));
    const first = initKeys(dir);
    expect(codeOf(() => initKeys(dir))).toBe('keys.exist');
    expect(initKeys(dir, { ifMissing: true })).toMatchObject({ created: false, keyId: first.keyId });
  });

  it('refuses key files others can read, and says when they are missing', () => {
    dir = mkdtempSync(join(tmpdir(), 'cw-keys-'));
    expect(codeOf(() => loadKeysFrom(dir))).toBe('keys.missing');
    initKeys(dir);
    chmodSync(join(dir, DATA_KEY_FILE), 0o644);
    expect(codeOf(() => loadKeysFrom(dir))).toBe('keys.invalid');
  });

  it("prefers systemd credentials ($CREDENTIALS_DIRECTORY) over the configured folder", () => {
    dir = mkdtempSync(join(tmpdir(), 'cw-keys-'));
    const configured = initKeys(join(dir, 'configured'));
    const creds = join(dir, 'creds');
    const other = initKeys(join(dir, 'other'));
    mkdirSync(creds);
    for (const f of [SIGNING_KEY_FILE, DATA_KEY_FILE]) copyFileSync(join(dir, 'other', f), join(creds, f));
    expect(other.keyId).not.toBe(configured.keyId);
    expect(loadKeys(join(dir, 'configured'), { CREDENTIALS_DIRECTORY: creds }).keyId).toBe(other.keyId);
    expect(loadKeys(join(dir, 'configured'), {}).keyId).toBe(configured.keyId);
    // A credentials folder without our keys falls back to the configured one.
    expect(loadKeys(join(dir, 'configured'), { CREDENTIALS_DIRECTORY: join(dir, 'nothing') }).keyId).toBe(configured.keyId);
  });
});
