import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CamwardenError } from '../errors.js';

/**
 * The agent's keys: an Ed25519 signing key (image tags, report envelopes) and an AES-256 data
 * key (blob encryption, Shenzhen Art. 77). Never in the config file: files of mode 0600, or
 * systemd credentials ($CREDENTIALS_DIRECTORY, LoadCredential=) which take precedence.
 */
export const SIGNING_KEY_FILE = 'camwarden-signing.key';
export const SIGNING_PUB_FILE = 'camwarden-signing.pub';
export const DATA_KEY_FILE = 'camwarden-data.key';

export interface AgentKeys {
  signingKey: KeyObject;
  publicKey: KeyObject;
  /** First 16 hex digits of the SHA-256 of the raw public key: names the key in tags and envelopes. */
  keyId: string;
  dataKey: Buffer;
  source: string;
}

export function keyIdOf(publicKey: KeyObject): string {
  const raw = publicKey.export({ format: 'der', type: 'spki' });
  return createHash('sha256').update(raw).digest('hex').slice(0, 16);
}

export function publicKeyPem(keys: AgentKeys): string {
  return keys.publicKey.export({ format: 'pem', type: 'spki' }).toString();
}

export function initKeys(dir: string, { ifMissing = false } = {}): { created: boolean; dir: string; keyId: string } {
  const signing = join(dir, SIGNING_KEY_FILE);
  const data = join(dir, DATA_KEY_FILE);
  if (existsSync(signing) || existsSync(data)) {
    if (ifMissing && existsSync(signing) && existsSync(data)) {
      return { created: false, dir, keyId: loadKeysFrom(dir).keyId };
    }
    throw new CamwardenError('keys.exist', `keys already exist in ${dir}; refusing to overwrite them (images signed with them would become unverifiable)`);
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  writeFileSync(signing, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600, flag: 'wx' });
  writeFileSync(join(dir, SIGNING_PUB_FILE), publicKey.export({ format: 'pem', type: 'spki' }), { mode: 0o644 });
  writeFileSync(data, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(signing, 0o600);
  chmodSync(data, 0o600);
  return { created: true, dir, keyId: keyIdOf(publicKey) };
}

function readSecret(file: string, systemdCredential: boolean): Buffer {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch {
    throw new CamwardenError('keys.missing', `key file ${file} not found; create keys with 'camwarden keys init'`);
  }
  // systemd credentials are the service's own, read-only; plain files must not be group/world readable.
  if ((mode & 0o077) !== 0 && !systemdCredential) {
    throw new CamwardenError('keys.invalid', `key file ${file} is readable by others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`);
  }
  return readFileSync(file);
}

export function loadKeysFrom(dir: string, { systemdCredential = false } = {}): AgentKeys {
  const pem = readSecret(join(dir, SIGNING_KEY_FILE), systemdCredential);
  let signingKey: KeyObject;
  try {
    signingKey = createPrivateKey(pem);
  } catch (error) {
    throw new CamwardenError('keys.invalid', `signing key in ${dir} is not a PEM private key`, { cause: error });
  }
  if (signingKey.asymmetricKeyType !== 'ed25519') {
    throw new CamwardenError('keys.invalid', `signing key in ${dir} is ${signingKey.asymmetricKeyType}, expected ed25519`);
  }
  const dataKey = Buffer.from(readSecret(join(dir, DATA_KEY_FILE), systemdCredential).toString('utf8').trim(), 'base64');
  if (dataKey.length !== 32) throw new CamwardenError('keys.invalid', `data key in ${dir} must be 32 bytes, base64 encoded`);
  const publicKey = createPublicKey(signingKey);
  return { signingKey, publicKey, keyId: keyIdOf(publicKey), dataKey, source: dir };
}

/** systemd credentials first (LoadCredential=), then the configured folder. */
export function loadKeys(keysDir: string, env: NodeJS.ProcessEnv = process.env): AgentKeys {
  const creds = env['CREDENTIALS_DIRECTORY'];
  if (creds && existsSync(join(creds, SIGNING_KEY_FILE))) return loadKeysFrom(creds, { systemdCredential: true });
  return loadKeysFrom(keysDir);
}
