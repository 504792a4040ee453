import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sampleJpeg, sampleNoticeContent, type AgentEnv } from '../helpers/agent-env.js';
import { makeTestServer, type TestServer } from '../helpers/test-server.js';

describe('notices over HTTP', () => {
  let server: TestServer;
  let env: AgentEnv;
  let app: FastifyInstance;
  const as = (role: keyof AgentEnv['tokens']) => server.as(role);
  const create = (payload: unknown) => app.inject({ method: 'POST', url: '/v1/notices', headers: as('operator'), payload: payload as object });

  beforeEach(async () => {
    server = await makeTestServer();
    ({ env, app } = server);
  });
  afterEach(() => server.close());

  it('refuses a body missing a field with 400 input.invalid naming the field', async () => {
    const content = sampleNoticeContent();
    const { retention: _r, ...zh } = content.text.zh;
    const r = await create({ content: { ...content, text: { ...content.text, zh } }, cameras: ['cam-north-gate'] });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ code: 'input.invalid', field: 'content.text.zh.retention' });
  });

  it('refuses unknown keys, wrong types and bad camera ids with 400, naming the field', async () => {
    const content = sampleNoticeContent();
    const cases: [unknown, string][] = [
      [{ content, cameras: ['cam-north-gate'], extra: 1 }, 'extra'],
      [{ content: { ...content, terms: { ...content.terms, retentionDays: 'thirty' } }, cameras: ['cam-north-gate'] }, 'content.terms.retentionDays'],
      [{ content, cameras: ['Not An Id'] }, 'cameras[0]'],
      [{ content }, 'cameras'],
    ];
    for (const [payload, field] of cases) {
      const r = await create(payload);
      expect(r.statusCode, field).toBe(400);
      expect(r.json(), field).toMatchObject({ code: 'input.invalid', field });
    }
    const bad = await app.inject({ method: 'POST', url: '/v1/notices', headers: { ...as('operator'), 'content-type': 'application/json' }, payload: '{"content":' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('input.invalid');
  });

  it('refuses a notice without the face items Shenzhen Art. 14 requires with 422 notice.incomplete', async () => {
    const content = sampleNoticeContent();
    const r = await create({ content: { ...content, terms: { ...content.terms, faceRecognition: true } }, cameras: ['cam-east-lobby'] });
    expect(r.statusCode).toBe(422);
    expect(r.json()).toMatchObject({ code: 'notice.incomplete', field: 'content.text.zh.faceNecessity' });
    expect(r.json().message).toContain('Shenzhen Art. 14');
  });

  it('refuses an unknown camera with 400 naming cameras', async () => {
    const r = await create({ content: sampleNoticeContent(), cameras: ['cam-nowhere'] });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ code: 'input.invalid', field: 'cameras' });
  });

  it('takes a notice from draft through evidence and verification to withdrawal', async () => {
    const created = await create({ content: sampleNoticeContent(), cameras: ['cam-north-gate'] });
    expect(created.statusCode).toBe(201);
    const id = created.json().id as string;
    expect(created.json()).toMatchObject({ state: 'draft', cameras: ['cam-north-gate'] });
    expect(created.headers.location).toBe(`/v1/notices/${id}`);

    const early = await app.inject({ method: 'POST', url: `/v1/notices/${id}/verify`, headers: as('operator'), payload: { by: 'Inspector Li' } });
    expect(early.statusCode).toBe(409);
    expect(early.json().code).toBe('notice.evidence-missing');

    const notImage = await app.inject({ method: 'PUT', url: `/v1/notices/${id}/evidence`, headers: { ...as('operator'), 'content-type': 'text/plain' }, payload: 'hello' });
    expect(notImage.statusCode).toBe(400);
    expect(notImage.json()).toMatchObject({ code: 'input.invalid', field: 'body' });

    const photo = await sampleJpeg();
    const ev = await app.inject({ method: 'PUT', url: `/v1/notices/${id}/evidence`, headers: { ...as('operator'), 'content-type': 'image/jpeg' }, payload: photo });
    expect(ev.statusCode).toBe(200);
    expect(ev.json().evidence.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(ev.json().evidence.file).toBeUndefined();

    const verified = await app.inject({ method: 'POST', url: `/v1/notices/${id}/verify`, headers: as('operator'), payload: { by: 'Inspector Li' } });
    expect(verified.statusCode).toBe(200);
    expect(verified.json()).toMatchObject({ state: 'verified', verifiedBy: 'Inspector Li' });

    const listed = await app.inject({ method: 'GET', url: '/v1/notices?state=verified&camera=cam-north-gate', headers: as('auditor') });
    expect(listed.json().map((n: { id: string }) => n.id)).toEqual([id]);
    const kiosk = await app.inject({ method: 'GET', url: `/v1/notices/${id}`, headers: as('kiosk') });
    expect(kiosk.json()).toMatchObject({ id, state: 'verified' });
    expect(kiosk.json().verifiedBy).toBeUndefined();
    expect(kiosk.json().evidence).toBeUndefined();
    const health = await app.inject({ method: 'GET', url: '/v1/health' });
    expect(health.json().notices.current).toBe(1);

    const withdrawn = await app.inject({ method: 'POST', url: `/v1/notices/${id}/withdraw`, headers: as('operator'), payload: { reason: 'moved' } });
    expect(withdrawn.statusCode).toBe(200);
    expect(withdrawn.json().state).toBe('withdrawn');
    const again = await app.inject({ method: 'POST', url: `/v1/notices/${id}/withdraw`, headers: as('operator'), payload: { reason: 'twice' } });
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('notice.state');

    const actions = env.services.audit.tail(100).filter((e) => e.object === id);
    expect(actions.map((e) => e.action)).toEqual(['notice.add', 'notice.evidence', 'notice.verify', 'notice.withdraw']);
    expect(new Set(actions.map((e) => e.actor))).toEqual(new Set(['http:operator-test']));
  });

  it('answers 404 not-found for an unknown notice', async () => {
    const r = await app.inject({ method: 'GET', url: '/v1/notices/no-such-notice', headers: as('operator') });
    expect(r.statusCode).toBe(404);
    expect(r.json().code).toBe('not-found');
  });

  it('renders the sign as SVG, PNG and text with the right content types', async () => {
    const id = (await create({ content: sampleNoticeContent(), cameras: ['cam-north-gate'] })).json().id as string;
    const get = (q: string) => app.inject({ method: 'GET', url: `/v1/notices/${id}/sign${q}`, headers: as('kiosk') });

    const svg = await get('');
    expect(svg.statusCode).toBe(200);
    expect(svg.headers['content-type']).toBe('image/svg+xml; charset=utf-8');
    expect(svg.body).toContain('<svg');
    expect(svg.body).toContain('width="210mm"');

    const png = await get('?format=png&paper=A3&large=true');
    expect(png.statusCode).toBe(200);
    expect(png.headers['content-type']).toBe('image/png');
    expect(png.rawPayload.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));

    const txt = await get('?format=txt');
    expect(txt.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(txt.body).toContain('https://test-plaza.example/privacy');
    expect(txt.body).toContain('CCTV in operation');

    // The realistic example sign in large print does not fit one A4 sheet: it continues on more pages, each served on its own.
    const { cameras: _ignored, ...example } = parse(readFileSync('config/notice.example.yaml', 'utf8')) as Record<string, unknown>;
    const exampleId = (await create({ content: example, cameras: ['cam-north-gate'] })).json().id as string;
    const getExample = (q: string) => app.inject({ method: 'GET', url: `/v1/notices/${exampleId}/sign${q}`, headers: as('kiosk') });
    const large = await getExample('?paper=A4&large=true');
    const pages = Number(large.headers['x-sign-pages']);
    expect(pages).toBeGreaterThan(1);
    const last = await getExample(`?paper=A4&large=true&page=${pages}&format=png`);
    expect(last.statusCode).toBe(200);
    expect(last.headers['content-disposition']).toContain(`-p${pages}.png`);
    expect((await getExample(`?paper=A4&large=true&page=${pages + 1}`)).json()).toMatchObject({ code: 'not-found', field: 'page' });

    const bad = await get('?format=pdf');
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'input.invalid', field: 'format' });
  });
});
