import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DAY_MS } from '../../agent/clock.js';
import { addMonths, createPiaRegister, type PiaContent, type PiaRegister } from '../../agent/assessments/pia-register.js';
import { verifyEnvelope } from '../../agent/reporting/protocol.js';
import { makeTestEnv, type TestEnv } from '../helpers/test-env.js';
import { errorOf } from '../helpers/errors.js';

const CONTENT: PiaContent = {
  lawfulness: 'Face matching at the staff entrance only, for access control; card and PIN remain available.',
  impact: 'Staff faces are processed on the device; templates deleted when employment ends.',
  risks: 'Leak or misuse of templates; mitigated by encryption and role-based access.',
  safeguards: 'AES-256 at rest, no upload, quarterly access review.',
};

let env: TestEnv;
let pias: PiaRegister;

beforeEach(() => {
  env = makeTestEnv();
  pias = createPiaRegister({ ...env, retentionYears: 3, reviewMonths: 12 });
});
afterEach(() => env.cleanup());

const add = (subject: string, cameras: string[], extra: { signedAt?: string; reviewBy?: string } = {}) =>
  pias.add({ subject, content: CONTENT, cameras, signedBy: 'Wang Fang (DPO)', ...extra }, 'op');

describe('adding assessments', () => {
  it('numbers versions per subject and marks only the latest current', () => {
    const v1 = add('north-gate-face', ['cam-north']);
    expect(v1).toMatchObject({
      version: 1,
      current: true,
      signedAt: '2026-01-01T00:00:00.000Z',
      reviewBy: '2027-01-01T00:00:00.000Z',
      retainUntil: '2029-01-01T00:00:00.000Z',
      cameras: ['cam-north'],
      content: CONTENT,
    });
    expect(add('lobby-face', ['cam-lobby']).version).toBe(1);
    env.clock.advance(DAY_MS);
    const v2 = add('north-gate-face', ['cam-north', 'cam-east']);
    expect(v2.version).toBe(2);
    expect(pias.get(v1.id).current).toBe(false);
    expect(pias.list().map((p) => [p.subject, p.version, p.current])).toEqual([
      ['lobby-face', 1, true],
      ['north-gate-face', 1, false],
      ['north-gate-face', 2, true],
    ]);
  });

  it('names every missing Art. 9 element', () => {
    const e = errorOf(() => pias.add({ subject: 's-face', content: { ...CONTENT, lawfulness: '', risks: ' ' }, cameras: ['cam-north'], signedBy: 'W' }, 'op'));
    expect(e).toMatchObject({ code: 'pia.incomplete', field: 'content.lawfulness', details: { missing: ['content.lawfulness', 'content.risks'] } });
    const none = errorOf(() => pias.add({ subject: 's-face', content: {} as PiaContent, cameras: ['cam-north'], signedBy: 'W' }, 'op'));
    expect((none.details as { missing: string[] }).missing).toHaveLength(4);
    expect(pias.list()).toEqual([]);
  });

  it('refuses a reviewBy not after signedAt, a future signedAt, no signer, no cameras and a free-text subject', () => {
    expect(errorOf(() => add('a-face', ['cam-north'], { signedAt: '2025-06-01T00:00:00Z', reviewBy: '2025-06-01T00:00:00Z' }))).toMatchObject({ code: 'input.invalid', field: 'reviewBy' });
    expect(errorOf(() => add('a-face', ['cam-north'], { signedAt: '2026-01-02T00:00:00Z' }))).toMatchObject({ code: 'input.invalid', field: 'signedAt' });
    expect(errorOf(() => add('a-face', ['cam-north'], { signedAt: 'last tuesday' }))).toMatchObject({ code: 'input.invalid', field: 'signedAt' });
    expect(errorOf(() => pias.add({ subject: 'a-face', content: CONTENT, cameras: ['cam-north'], signedBy: '' }, 'op'))).toMatchObject({ field: 'signedBy' });
    expect(errorOf(() => add('a-face', []))).toMatchObject({ code: 'input.invalid', field: 'cameras' });
    expect(errorOf(() => add('Wang Fang north gate', ['cam-north']))).toMatchObject({ code: 'input.invalid', field: 'subject' });
  });

  it('reviews early and retains late on short months', () => {
    const jan31 = new Date('2026-01-31T09:00:00Z');
    expect(addMonths(jan31, 1, 'clamp').toISOString()).toBe('2026-02-28T09:00:00.000Z');
    expect(addMonths(jan31, 1, 'roll').toISOString()).toBe('2026-03-03T09:00:00.000Z');
    env.clock.set('2028-03-01T00:00:00Z');
    const leap = add('leap-face', ['cam-north'], { signedAt: '2028-02-29T12:00:00Z' });
    expect(leap.retainUntil).toBe('2031-03-01T12:00:00.000Z');
    expect(leap.reviewBy).toBe('2029-02-28T12:00:00.000Z');
  });
});

describe('currentFor', () => {
  it('finds the current assessment for a camera until its review date passes', () => {
    const p = add('north-gate-face', ['cam-north']);
    expect(pias.currentFor('cam-north', env.clock.now())?.id).toBe(p.id);
    expect(pias.currentFor('cam-lobby', env.clock.now())).toBeUndefined();
    const review = new Date(p.reviewBy);
    expect(pias.currentFor('cam-north', new Date(review.getTime() - 1))?.id).toBe(p.id);
    expect(pias.currentFor('cam-north', review)).toBeUndefined();
    env.clock.set(review);
    expect(pias.get(p.id).current).toBe(false);
  });

  it('follows the latest version, which may drop a camera', () => {
    const v1 = add('gate-face', ['cam-north', 'cam-lobby']);
    env.clock.advance(DAY_MS);
    const v2 = add('gate-face', ['cam-north']);
    const now = env.clock.now();
    expect(pias.currentFor('cam-north', now)?.id).toBe(v2.id);
    // The redone assessment no longer covers the lobby: the old one must not keep face processing there.
    expect(pias.currentFor('cam-lobby', now)).toBeUndefined();
    expect(v1.id).not.toBe(v2.id);
  });

  it('is a lookup by camera through the pia_cameras index', () => {
    const plan = env.db.prepare('EXPLAIN QUERY PLAN SELECT pia_id FROM pia_cameras WHERE camera_id = ?').all('x') as { detail: string }[];
    expect(plan.map((r) => r.detail).join(' ')).toContain('pia_cameras_camera');
  });
});

describe('retention (Measures Art. 9: kept at least 3 years)', () => {
  it('refuses removal within retention and allows it after', () => {
    const v1 = add('gate-face', ['cam-north']);
    env.clock.advance(DAY_MS);
    add('gate-face', ['cam-north']);
    env.clock.set('2028-12-31T23:59:59.999Z');
    expect(errorOf(() => pias.remove(v1.id, 'op')).code).toBe('pia.retained');
    env.clock.set(v1.retainUntil);
    pias.remove(v1.id, 'op');
    expect(errorOf(() => pias.get(v1.id)).code).toBe('not-found');
  });

  it('refuses removing the latest while earlier versions remain, so none becomes current again', () => {
    const v1 = add('gate-face', ['cam-north'], { reviewBy: '2040-01-01T00:00:00Z' });
    env.clock.advance(DAY_MS);
    const v2 = add('gate-face', ['cam-north']);
    env.clock.set('2030-01-01T00:00:00Z');
    expect(errorOf(() => pias.remove(v2.id, 'op')).code).toBe('conflict');
    pias.remove(v1.id, 'op');
    pias.remove(v2.id, 'op');
    expect(pias.list()).toEqual([]);
  });

  it('purges superseded assessments past retention, keeping the latest and anything within it', () => {
    const a1 = add('gate-face', ['cam-north']);
    const b1 = add('lobby-face', ['cam-lobby']);
    env.clock.set('2027-06-01T00:00:00Z');
    const a2 = add('gate-face', ['cam-north']);
    env.clock.set('2029-06-01T00:00:00Z');
    const a3 = add('gate-face', ['cam-north']);

    expect(pias.purgeExpired(new Date('2028-12-31T00:00:00Z'), 'retention')).toEqual([]);
    // a1 is past retention and superseded; a2 is superseded but kept until 2030-06; b1 and a3 are latest.
    expect(pias.purgeExpired(env.clock.now(), 'retention')).toEqual([a1.id]);
    expect(pias.list().map((p) => p.id).sort()).toEqual([a2.id, a3.id, b1.id].sort());
    expect(pias.purgeExpired(new Date('2040-01-01T00:00:00Z'), 'retention')).toEqual([a2.id]);
    expect(pias.list().map((p) => p.id).sort()).toEqual([a3.id, b1.id].sort());
  });

  it('keeps an assessment that stored images still refer to', () => {
    const v1 = add('gate-face', ['cam-north']);
    env.clock.advance(DAY_MS);
    add('gate-face', ['cam-north']);
    // The images and notices tables belong to other modules; rows inserted directly to hold the reference.
    env.db.prepare("INSERT INTO notices (id, created_at, state, content) VALUES ('n1', '2026-01-01T00:00:00Z', 'draft', '{}')").run();
    env.db
      .prepare(
        `INSERT INTO images (id, camera_id, notice_id, pia_id, captured_at, stored_at, purpose, original_sha256, bytes, width, height, retain_until, legal_hold, blob_file)
         VALUES ('img1', 'cam-north', 'n1', ?, 't', 't', 'public-safety', 'a', 1, 1, 1, 't', 1, 'im/img1.cwb')`,
      )
      .run(v1.id);
    env.clock.set('2030-01-01T00:00:00Z');
    expect(pias.purgeExpired(env.clock.now(), 'retention')).toEqual([]);
    expect(errorOf(() => pias.remove(v1.id, 'op')).code).toBe('conflict');
    expect(pias.get(v1.id).cameras).toEqual(['cam-north']);
  });
});

describe('audit and reports', () => {
  it('records every add and removal, reports them without the signer, and the chain verifies', () => {
    const v1 = add('gate-face', ['cam-north']);
    env.clock.advance(DAY_MS);
    const v2 = add('gate-face', ['cam-north']);
    env.clock.set('2030-01-01T00:00:00Z');
    pias.purgeExpired(env.clock.now(), 'retention');

    expect(env.audit.tail(100).map((e) => [e.action, e.object, e.actor])).toEqual([
      ['pia.add', v1.id, 'op'],
      ['pia.add', v2.id, 'op'],
      ['pia.remove', v1.id, 'retention'],
    ]);
    expect(env.audit.verify().ok).toBe(true);

    const sent = env.outbox.pending(100);
    expect(sent.map((e) => e.kind)).toEqual(['pia-changed', 'pia-changed', 'pia-changed']);
    expect(sent[0]?.body).toEqual({ pia: v1.id, subject: 'gate-face', version: 1, cameras: ['cam-north'], reviewBy: v1.reviewBy });
    expect(sent[2]?.body).toMatchObject({ pia: v1.id, removed: true });
    expect(sent.every((e) => verifyEnvelope(e, env.keys.publicKey))).toBe(true);
    expect(JSON.stringify(sent) + JSON.stringify(env.audit.tail(100))).not.toContain('Wang Fang');
  });
});
