import { createHash, randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Role, TokenConfig } from '../config/schema.js';
import { CamwardenError } from '../errors.js';

/**
 * Bearer tokens per role, stored as SHA-256 only (DESIGN: Local HTTP API). Each route names the
 * roles that may call it and no other role reaches it (Shenzhen Art. 11(5): each person with
 * access sees only the minimum their duties need).
 */
export interface Principal {
  role: Role;
  /** For the audit log: `http:<token name>`, or `http:<role>` for an unnamed token. */
  actor: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

const TOKEN_PREFIX = 'cw_';
// Longer than any token newToken() makes, short enough that hashing junk costs nothing.
const MAX_TOKEN_LENGTH = 512;
const BEARER = /^Bearer[ \t]+([!-~]+)[ \t]*$/i;

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** 32 random bytes, base64url, prefixed so a leaked token is recognisable in a secret scanner. */
export function newToken(): string {
  return `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

export type RoleGuard = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

export interface Auth {
  /** The principal a header names, or undefined for a missing, malformed or unknown token. */
  principalOf(authorization: string | undefined): Principal | undefined;
  /**
   * A hook for `onRequest`: it runs before the body is read and validated, so an unauthenticated
   * caller learns nothing about the schema and cannot make the agent buffer a large body.
   */
  requireRoles(...roles: Role[]): RoleGuard;
}

export function createAuth(tokens: readonly TokenConfig[]): Auth {
  // A map lookup on the hash needs no constant-time compare: an attacker controls the token,
  // not its SHA-256, so timing reveals nothing about a stored hash.
  const byHash = new Map<string, Principal>(
    tokens.map((t) => [t.sha256.toLowerCase(), { role: t.role, actor: `http:${t.name ?? t.role}` }]),
  );

  function principalOf(authorization: string | undefined): Principal | undefined {
    if (authorization === undefined || authorization.length > MAX_TOKEN_LENGTH + 16) return undefined;
    const token = BEARER.exec(authorization)?.[1];
    if (token === undefined || token.length > MAX_TOKEN_LENGTH) return undefined;
    return byHash.get(hashToken(token));
  }

  return {
    principalOf,
    requireRoles(...roles) {
      if (roles.length === 0) throw new Error('requireRoles needs at least one role');
      const allowed = new Set<Role>(roles);
      return async (request) => {
        const principal = principalOf(request.headers.authorization);
        if (principal === undefined) {
          throw new CamwardenError('auth.missing', 'a valid bearer token is required (Authorization: Bearer <token>)');
        }
        if (!allowed.has(principal.role)) {
          throw new CamwardenError(
            'auth.forbidden',
            `role ${principal.role} may not use this route; allowed: ${[...allowed].join(', ')} (Shenzhen Art. 11(5))`,
          );
        }
        request.principal = principal;
      };
    },
  };
}

/** The caller a guarded route runs for; a route without a guard has none, which is a bug. */
export function principal(request: FastifyRequest): Principal {
  if (request.principal === undefined) throw new Error(`route ${request.routeOptions.url ?? ''} has no role guard`);
  return request.principal;
}
