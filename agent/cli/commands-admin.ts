import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { AgentServices } from '../agent.js';
import { verifyTaggedJpeg } from '../capture/image-tag.js';
import { loadConfig } from '../config/load-config.js';
import { ROLES, type Role } from '../config/schema.js';
import { CamwardenError } from '../errors.js';
import { hashToken, newToken } from '../http/auth.js';
import { initKeys, keyIdOf, SIGNING_PUB_FILE } from '../keys/agent-keys.js';
import { reconcileStore } from '../store/reconcile.js';
import { info, printJson } from './output.js';

type WithServices = <T>(fn: (s: AgentServices) => T | Promise<T>) => Promise<T>;

/** Exit statuses of verify-image, documented in the README. */
export const VERIFY_EXIT = { valid: 0, tampered: 3, untagged: 4 } as const;

function readPublicKey(file: string): KeyObject {
  try {
    return createPublicKey(readFileSync(file));
  } catch (error) {
    throw new CamwardenError('input.invalid', `cannot read public key ${file}: ${(error as Error).message}`, { field: 'public-key' });
  }
}

export function registerAdminCommands(program: Command, withServices: WithServices, configPath: () => string): void {
  const keys = program.command('keys').description("the agent's signing and data keys");
  keys
    .command('init')
    .description('create the Ed25519 signing key and the AES-256 data key (files of mode 0600)')
    .option('--dir <dir>', 'folder (default: agent.keysDir of the config)')
    .option('--if-missing', 'do nothing when both keys exist')
    .action((o: { dir?: string; ifMissing?: boolean }) => {
      const dir = o.dir ?? loadConfig(configPath()).config.agent.keysDir;
      const r = initKeys(dir, { ifMissing: o.ifMissing ?? false });
      info(r.created ? `keys created in ${r.dir} (key id ${r.keyId})` : `keys already present in ${r.dir} (key id ${r.keyId})`);
    });

  program
    .command('token')
    .description('bearer tokens for the local HTTP API')
    .command('create')
    .option('--role <role>', ROLES.join(' | '))
    .option('--camera <id>', 'a push token for this camera instead (POST /v1/cameras/:id/frames)')
    .option('--name <label>', 'who holds it')
    .action((o: { role?: string; camera?: string; name?: string }) => {
      if ((o.role === undefined) === (o.camera === undefined)) throw new CamwardenError('usage', 'give exactly one of --role or --camera', { field: 'role' });
      if (o.role !== undefined && !(ROLES as readonly string[]).includes(o.role)) throw new CamwardenError('usage', `--role must be one of ${ROLES.join(', ')}`, { field: 'role' });
      const token = newToken();
      process.stdout.write(`${token}\n`);
      info(
        o.camera !== undefined
          ? `Configure the camera to send the token above as "Authorization: Bearer"; it is shown once. Add to camera ${o.camera} in the config:\n    push: { tokenSha256: ${hashToken(token)} }`
          : `Give the token above to its holder; it is shown once. Add to http.tokens in the config:\n  - role: ${o.role as Role}\n    sha256: ${hashToken(token)}${o.name ? `\n    name: ${o.name}` : ''}`,
      );
    });

  program
    .command('validate-config')
    .description('check the config and its jurisdiction profile; exit 78 when invalid')
    .action(() => {
      const { config, profile, path } = loadConfig(configPath());
      info(`${path}: valid (agent ${config.agent.id}, site ${config.site.id}, profile ${profile.id}, ${config.cameras.length} cameras)`);
    });

  program
    .command('verify-image <file>')
    .description('check the purpose tag: signature, and original bytes against the recorded hash. Exit 0 valid, 3 tampered, 4 untagged')
    .option('--public-key <pem...>', "verify against these public keys (default: the agent's)")
    .option('--json', 'print JSON')
    .action((file: string, o: { publicKey?: string[]; json?: boolean }) => {
      const keysList = o.publicKey?.map(readPublicKey) ?? [readPublicKey(join(loadConfig(configPath()).config.agent.keysDir, SIGNING_PUB_FILE))];
      const byId = new Map(keysList.map((k) => [keyIdOf(k), k]));
      let bytes: Buffer;
      try {
        bytes = readFileSync(file);
      } catch (error) {
        throw new CamwardenError('input.invalid', `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`, { field: 'file' });
      }
      const r = verifyTaggedJpeg(bytes, (id) => byId.get(id));
      if (o.json) printJson({ file, ...r });
      else process.stdout.write(`${file}: ${r.status}${r.reason ? ` (${r.reason})` : ''}${r.fields ? `; purpose ${r.fields.purpose}, camera ${r.fields.camera}, captured ${r.fields.capturedAt}` : ''}\n`);
      process.exitCode = VERIFY_EXIT[r.status];
    });

  program
    .command('reconcile')
    .description('after a crash: remove files without rows and rows without files')
    .action(() => withServices((s) => printJson(reconcileStore(s))));
}
