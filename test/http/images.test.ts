import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildServer } from '../../agent/http/build-server.js';
import { silentLogger } from '../../agent/log.js';
import { makeAgentEnv, sampleJpeg, verifiedNotice, type AgentEnv } from '../helpers/agent-env.js';

describe('images over HTTP', () => {
  let env: AgentEnv;
  let app: FastifyInstance;
  let imageId: string;
  const as = (role: keyof AgentEnv['tokens']) => ({ authorization: `Bearer ${env.tokens[role]}` });
  const exportAs = (payload: object, id = imageId) =>
    app.inject({ method: 'POST', url: `/v1/images/${id}/export`, headers: as('security'), payload });

  beforeEach(async () => {
    env = makeAgentEnv();
    app = buildServer({ services: env.services, log: silentLogger });
    await app.ready();
    await verifiedNotice(env.services, ['cam-north-gate']);
    env.clock.advance(1000);
    const r = await env.services.capture.ingest('cam-north-gate', await sampleJpeg(), { source: 'cli' });
    if (r.status !== 'stored') throw new Error(`fixture image not stored: ${JSON.stringify(r)}`);
    imageId = r.imageId;
  });
  afterEach(async () => {
    await app.close();
    env.cleanup();
  });

  it('lists and shows image metadata without the blob file name', async () => {
    const list = await app.inject({ method: 'GET', url: '/v1/images?camera=cam-north-gate&limit=10', headers: as('auditor') });
    expect(list.statusCode).toBe(200);
    expect(list.json()).toHaveLength(1);
    expect(list.json()[0]).toMatchObject({ id: imageId, cameraId: 'cam-north-gate', purpose: 'public-safety', legalHold: false });
    expect(list.json()[0].blobFile).toBeUndefined();

    const later = await app.inject({ method: 'GET', url: `/v1/images?from=${encodeURIComponent('2027-01-01T00:00:00+08:00')}`, headers: as('security') });
    expect(later.json()).toEqual([]);
    const one = await app.inject({ method: 'GET', url: `/v1/images/${imageId}`, headers: as('operator') });
    expect(one.json().id).toBe(imageId);
  });

  it('validates the query: limit 1..1000 and date-times', async () => {
    for (const [q, field] of [['limit=0', 'limit'], ['limit=1001', 'limit'], ['from=yesterday', 'from'], ['colour=red', 'colour']] as const) {
      const r = await app.inject({ method: 'GET', url: `/v1/images?${q}`, headers: as('security') });
      expect(r.statusCode, q).toBe(400);
      expect(r.json(), q).toMatchObject({ code: 'input.invalid', field });
    }
  });

  it('exports for public safety the stored tagged JPEG, byte for byte', async () => {
    const r = await exportAs({ purpose: 'public-safety', legalBasisRef: 'Futian PSB case 2026-0142' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('image/jpeg');
    const record = env.services.images.get(imageId);
    expect(r.rawPayload.equals(env.services.blobs.read(record.blobFile))).toBe(true);
    const entry = env.services.audit.tail(1)[0]!;
    expect(entry).toMatchObject({ action: 'image.export', decision: 'permit', actor: 'http:security-test', object: `image:${imageId}` });
    // The audit entry records the hash of exactly what left the agent (chain of custody).
    expect(JSON.parse(entry.detail!).sha256).toBe(createHash('sha256').update(r.rawPayload).digest('hex'));
  });

  it('denies marketing with 403 purpose.denied naming rule and article, and audits the denial', async () => {
    const r = await exportAs({ purpose: 'marketing' });
    expect(r.statusCode).toBe(403);
    expect(r.json().code).toBe('purpose.denied');
    expect(r.json().message).toContain('purpose.consent-required');
    expect(r.json().message).toMatch(/Art\. \d+/);
    const entry = env.services.audit.tail(1)[0]!;
    expect(entry).toMatchObject({ action: 'image.export', decision: 'deny', rule: 'purpose.consent-required', object: `image:${imageId}` });
  });

  it('denies public safety without a legal basis reference, and an unknown purpose', async () => {
    expect((await exportAs({ purpose: 'public-safety' })).json().code).toBe('purpose.denied');
    expect((await exportAs({ purpose: 'curiosity' })).json().code).toBe('purpose.denied');
    expect(env.services.audit.tail(2).map((e) => e.decision)).toEqual(['deny', 'deny']);
  });

  it('answers 404 not-found for an unknown image', async () => {
    const r = await exportAs({ purpose: 'public-safety', legalBasisRef: 'case 1' }, 'no-such-image');
    expect(r.statusCode).toBe(404);
    expect(r.json().code).toBe('not-found');
    expect((await app.inject({ method: 'GET', url: '/v1/images/no-such-image', headers: as('security') })).statusCode).toBe(404);
  });

  it('puts an image on legal hold with a reason and releases it, audited', async () => {
    const noReason = await app.inject({ method: 'POST', url: `/v1/images/${imageId}/hold`, headers: as('security'), payload: { hold: true } });
    expect(noReason.statusCode).toBe(400);
    expect(noReason.json()).toMatchObject({ code: 'input.invalid', field: 'reason' });

    const held = await app.inject({ method: 'POST', url: `/v1/images/${imageId}/hold`, headers: as('security'), payload: { hold: true, reason: 'case 2026-0142' } });
    expect(held.json()).toMatchObject({ legalHold: true, holdReason: 'case 2026-0142' });
    const released = await app.inject({ method: 'POST', url: `/v1/images/${imageId}/hold`, headers: as('operator'), payload: { hold: false } });
    expect(released.json()).toMatchObject({ legalHold: false, holdReason: null });
    expect(env.services.audit.tail(2).map((e) => [e.action, e.actor])).toEqual([
      ['image.hold', 'http:security-test'],
      ['image.release', 'http:operator-test'],
    ]);
  });
});
