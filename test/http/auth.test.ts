import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuth, hashToken, newToken } from '../../agent/http/auth.js';
import type { AgentEnv } from '../helpers/agent-env.js';
import { makeTestServer, type TestServer } from '../helpers/test-server.js';

describe('bearer tokens', () => {
  it('makes cw_-prefixed tokens of 32 random bytes and hashes them to lowercase SHA-256 hex', () => {
    const t = newToken();
    expect(t).toMatch(/^cw_[A-Za-z0-9_-]{43}$/);
    expect(newToken()).not.toBe(t);
    expect(hashToken('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('resolves a token to its role and name, and nothing else to anything', () => {
    const token = newToken();
    const auth = createAuth([{ role: 'security', sha256: hashToken(token), name: 'night desk' }]);
    expect(auth.principalOf(`Bearer ${token}`)).toEqual({ role: 'security', actor: 'http:night desk' });
    expect(auth.principalOf(`bearer ${token}`)?.role).toBe('security');
    expect(auth.principalOf(undefined)).toBeUndefined();
    expect(auth.principalOf(token)).toBeUndefined();
    expect(auth.principalOf(`Basic ${token}`)).toBeUndefined();
    expect(auth.principalOf(`Bearer ${token}x`)).toBeUndefined();
    expect(auth.principalOf(`Bearer ${'a'.repeat(10_000)}`)).toBeUndefined();
  });
});

describe('role guard over HTTP (Shenzhen Art. 11(5))', () => {
  let env: AgentEnv;
  let app: FastifyInstance;
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

  let server: TestServer;
  beforeAll(async () => {
    server = await makeTestServer();
    ({ env, app } = server);
  });
  afterAll(() => server.close());

  it('answers 401 auth.missing without a token, with a challenge', async () => {
    const r = await app.inject({ method: 'GET', url: '/v1/notices' });
    expect(r.statusCode).toBe(401);
    expect(r.json()).toMatchObject({ code: 'auth.missing' });
    expect(r.headers['www-authenticate']).toMatch(/^Bearer/);
  });

  it('answers 401 auth.missing for an unknown token', async () => {
    const r = await app.inject({ method: 'GET', url: '/v1/notices', headers: bearer(newToken()) });
    expect(r.statusCode).toBe(401);
    expect(r.json().code).toBe('auth.missing');
  });

  it('checks the token before the body, so a stranger learns nothing about the schema', async () => {
    const r = await app.inject({ method: 'POST', url: '/v1/notices', payload: { nonsense: true } });
    expect(r.statusCode).toBe(401);
  });

  it.each([
    ['kiosk', 'POST', '/v1/images/any-id/export', { purpose: 'public-safety', legalBasisRef: 'case 1' }],
    ['operator', 'POST', '/v1/images/any-id/export', { purpose: 'public-safety', legalBasisRef: 'case 1' }],
    ['gate', 'GET', '/v1/images', undefined],
    ['kiosk', 'GET', '/v1/images', undefined],
    ['auditor', 'POST', '/v1/notices', { content: {}, cameras: ['cam-north-gate'] }],
    ['security', 'GET', '/v1/notices', undefined],
    ['gate', 'GET', '/v1/audit/verify', undefined],
    ['operator', 'GET', '/v1/audit', undefined],
    ['kiosk', 'GET', '/v1/assessments', undefined],
    ['auditor', 'POST', '/v1/images/any-id/hold', { hold: false }],
    ['auditor', 'GET', '/v1/notices/any-id/sign', undefined],
  ] as const)('answers 403 auth.forbidden to %s on %s %s', async (role, method, url, payload) => {
    const r = await app.inject({ method, url, headers: bearer(env.tokens[role]), ...(payload ? { payload } : {}) });
    expect(r.statusCode).toBe(403);
    expect(r.json()).toMatchObject({ code: 'auth.forbidden' });
  });

  it('lets each allowed role through', async () => {
    for (const role of ['operator', 'auditor', 'kiosk'] as const) {
      expect((await app.inject({ method: 'GET', url: '/v1/notices', headers: bearer(env.tokens[role]) })).statusCode).toBe(200);
    }
    for (const role of ['security', 'auditor', 'operator'] as const) {
      expect((await app.inject({ method: 'GET', url: '/v1/images', headers: bearer(env.tokens[role]) })).statusCode).toBe(200);
    }
    expect((await app.inject({ method: 'GET', url: '/v1/audit', headers: bearer(env.tokens.auditor) })).statusCode).toBe(200);
  });
});
