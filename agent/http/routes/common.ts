import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Type from 'typebox';
import type { AgentServices } from '../../agent.js';
import { packageRoot } from '../../config/jurisdictions.js';
import type { Auth } from '../auth.js';

/** What every route plugin gets: the composition root's services and the role guard. */
export interface RouteDeps {
  services: AgentServices;
  auth: Auth;
}

/** JSON bodies are small; only the evidence photo of a sign is large. */
export const JSON_BODY_LIMIT = 1024 * 1024;
export const IMAGE_BODY_LIMIT = 32 * 1024 * 1024;

/** Record ids come from `ids.next()` (UUIDs in production); anything else is refused early. */
export const RecordId = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]*$' });

export const IdParams = Type.Object({ id: RecordId }, { additionalProperties: false });

/** For the OpenAPI document: the routes that need a token. */
export const BEARER = [{ bearer: [] as string[] }];

/** The version in package.json, for /v1/health and the OpenAPI document. */
export function agentVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

