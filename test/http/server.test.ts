import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { createAgent, type AgentServices } from '../../agent/agent.js';
import { buildServer } from '../../agent/http/build-server.js';
import { silentLogger } from '../../agent/log.js';
import { makeAgentEnv, type AgentEnv } from '../helpers/agent-env.js';
import { makeTestServer, type TestServer } from '../helpers/test-server.js';

const ROUTES = [
  ['get', '/v1/health'],
  ['get', '/v1/notices'],
  ['post', '/v1/notices'],
  ['get', '/v1/notices/{id}'],
  ['put', '/v1/notices/{id}/evidence'],
  ['post', '/v1/notices/{id}/verify'],
  ['post', '/v1/notices/{id}/withdraw'],
  ['get', '/v1/notices/{id}/sign'],
  ['get', '/v1/images'],
  ['get', '/v1/images/{id}'],
  ['post', '/v1/images/{id}/export'],
  ['post', '/v1/images/{id}/hold'],
  ['get', '/v1/audit/verify'],
  ['get', '/v1/audit'],
  ['get', '/v1/assessments'],
  ['post', '/v1/assessments'],
] as const;

describe('the HTTP server', () => {
  let server: TestServer;
  let env: AgentEnv;
  let app: FastifyInstance;
  const as = (role: keyof AgentEnv['tokens']) => server.as(role);

  beforeEach(async () => {
    server = await makeTestServer();
    ({ env, app } = server);
  });
  afterEach(() => server.close());

  it('answers health without a token', async () => {
    const r = await app.inject({ method: 'GET', url: '/v1/health' });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({
      status: 'ok',
      agent: 'gw-test-01',
      site: 'test-plaza',
      time: '2026-03-02T08:00:00.000Z',
      capture: { stored: 0 },
      notices: { current: 0 },
    });
    expect(typeof r.json().version).toBe('string');
    expect(typeof r.json().outboxPending).toBe('number');
    expect(r.headers['cache-control']).toBe('no-store');
  });

  it('answers an unknown route with 404 not-found', async () => {
    const r = await app.inject({ method: 'GET', url: '/v2/everything?secret=1' });
    expect(r.statusCode).toBe(404);
    expect(r.json()).toMatchObject({ code: 'not-found' });
    expect(r.body).not.toContain('secret');
  });

  it('answers an unexpected failure with 500 internal and no stack', async () => {
    env.services.audit.verify = () => {
      throw new Error('disk on fire at /var/lib/camwarden');
    };
    const r = await app.inject({ method: 'GET', url: '/v1/audit/verify', headers: as('auditor') });
    expect(r.statusCode).toBe(500);
    expect(r.json()).toEqual({ code: 'internal', message: expect.any(String) });
    expect(r.body).not.toMatch(/fire|camwarden\/|at .*\.ts/);
  });

  it('serves a valid OpenAPI 3 document listing every route and its bearer scheme', async () => {
    const r = await app.inject({ method: 'GET', url: '/openapi.json' });
    expect(r.statusCode).toBe(200);
    const doc = r.json();
    expect(doc.openapi).toMatch(/^3\./);
    await SwaggerParser.validate(structuredClone(doc));
    for (const [method, path] of ROUTES) expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
    expect(doc.paths['/openapi.json']).toBeUndefined();
    expect(doc.paths['/v1/images/{id}/export'].post.security).toEqual([{ bearer: [] }]);
    expect(doc.paths['/v1/health'].get.security).toBeUndefined();
  });

  it('verifies and reads the audit chain', async () => {
    for (let i = 0; i < 5; i += 1) env.services.audit.append({ actor: 'test', action: `t.${i}` });
    const v = await app.inject({ method: 'GET', url: '/v1/audit/verify', headers: as('operator') });
    expect(v.json()).toEqual({ ok: true, entries: 5 });
    const page = await app.inject({ method: 'GET', url: '/v1/audit?after=1&limit=2', headers: as('auditor') });
    expect(page.json().entries.map((e: { seq: number }) => e.seq)).toEqual([2, 3]);
    expect(page.json().more).toBe(true);
    const rest = await app.inject({ method: 'GET', url: '/v1/audit?after=3', headers: as('auditor') });
    expect(rest.json()).toMatchObject({ more: false });
    expect(rest.json().entries).toHaveLength(2);
  });

  it('records an impact assessment and refuses an incomplete one', async () => {
    const body = {
      subject: 'east-lobby-face',
      cameras: ['cam-east-lobby'],
      signedBy: 'DPO Wang',
      content: { lawfulness: 'Gate access', impact: 'Low; card alternative', risks: 'Template leak', safeguards: 'On-device only' },
    };
    const created = await app.inject({ method: 'POST', url: '/v1/assessments', headers: as('operator'), payload: body });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ subject: 'east-lobby-face', version: 1, current: true });
    const blank = await app.inject({ method: 'POST', url: '/v1/assessments', headers: as('operator'), payload: { ...body, content: { ...body.content, risks: ' ' } } });
    expect(blank.statusCode).toBe(422);
    expect(blank.json()).toMatchObject({ code: 'pia.incomplete', field: 'content.risks' });
    const list = await app.inject({ method: 'GET', url: '/v1/assessments', headers: as('auditor') });
    expect(list.json()).toHaveLength(1);
  });
});

describe('the running agent over a real socket', () => {
  let env: AgentEnv | undefined;
  afterEach(() => env?.cleanup());

  async function run(services: AgentServices, fn: (address: string) => Promise<void>): Promise<void> {
    const agent = createAgent(services);
    await agent.start(new AbortController().signal);
    try {
      await fn(agent.address()!);
    } finally {
      expect(await agent.stop()).toBe(0);
    }
  }

  it('serves health and an authorised route over HTTP, then stops', async () => {
    env = makeAgentEnv();
    const tokens = env.tokens;
    await run(env.services, async (address) => {
      expect(address).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const health = await fetch(`${address}/v1/health`);
      expect(health.status).toBe(200);
      expect(((await health.json()) as { status: string }).status).toBe('ok');
      expect((await fetch(`${address}/v1/notices`)).status).toBe(401);
      const notices = await fetch(`${address}/v1/notices`, { headers: { authorization: `Bearer ${tokens.auditor}` } });
      expect(notices.status).toBe(200);
      expect(await notices.json()).toEqual([]);
    });
  });

  it('refuses an unreadable TLS certificate as a config problem', () => {
    env = makeAgentEnv({ http: { tls: { certFile: '/nonexistent/agent.crt', keyFile: '/nonexistent/agent.key' } } });
    const services = env.services;
    expect(() => buildServer({ services, log: silentLogger })).toThrow(expect.objectContaining({ code: 'config.invalid', field: 'http.tls.certFile' }));
  });

  it('serves HTTPS when http.tls names a certificate and key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'camwarden-tls-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const cert = join(dir, 'agent.crt');
    const key = join(dir, 'agent.key');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    env = makeAgentEnv({ http: { tls: { certFile: cert, keyFile: key } } });
    await run(env.services, async (address) => {
      expect(address).toMatch(/^https:\/\//);
      const status = await new Promise<number>((resolve, reject) => {
        request(`${address}/v1/health`, { ca: readFileSync(cert) }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
          .on('error', reject)
          .end();
      });
      expect(status).toBe(200);
    });
  });
});
