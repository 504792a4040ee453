import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DAY_MS } from '../../agent/clock.js';
import { CamwardenError } from '../../agent/errors.js';
import type { NoticeContent, NoticeText } from '../../agent/notices/notice-content.js';
import { createNoticeRegister, noticeState, type NoticeRegister } from '../../agent/notices/notice-register.js';
import { createAuditLog } from '../../agent/audit/audit-log.js';
import { createOutbox } from '../../agent/reporting/outbox.js';
import { verifyEnvelope } from '../../agent/reporting/protocol.js';
import { openDatabase } from '../../agent/store/open-database.js';
import { makeTestEnv, type TestEnv } from '../helpers/test-env.js';
import { errorOf } from '../helpers/errors.js';

const REVERIFY_DAYS = 90;
const CAMERAS = ['cam-north', 'cam-lobby', 'cam-east'];
const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10]), Buffer.from('JFIF sign photo'), Buffer.from([0xff, 0xd9])]);
const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('IHDR sign photo')]);

function text(overrides: Partial<NoticeText> = {}): NoticeText {
  return {
    title: '视频监控区域',
    handler: '示例物业管理有限公司',
    contact: '0755-12345678',
    dataTypes: '图像',
    purpose: '维护公共安全',
    method: '摄像头连续录像',
    retention: '30天',
    security: '加密存储，访问授权',
    rights: '查阅、复制、删除',
    howToExercise: '扫描二维码',
    ...overrides,
  };
}

function content(opts: { face?: boolean; zh?: Partial<NoticeText>; en?: Partial<NoticeText> } = {}): NoticeContent {
  return {
    terms: { handler: '示例物业管理有限公司', purpose: 'public-safety', retentionDays: 30, faceRecognition: opts.face ?? false },
    text: { zh: text(opts.zh), ...(opts.en ? { en: text(opts.en) } : {}) },
    placement: { location: '北门入口左侧', distanceMeters: 2 },
  };
}

let env: TestEnv;
let notices: NoticeRegister;

beforeEach(() => {
  env = makeTestEnv();
  notices = createNoticeRegister({ ...env, reverifyDays: REVERIFY_DAYS, knownCameras: () => CAMERAS });
});
afterEach(() => env.cleanup());

describe('notice lifecycle', () => {
  it('goes draft → evidence → verified → expired → re-verified → withdrawn', async () => {
    const n = notices.add({ content: content(), cameras: ['cam-north', 'cam-lobby'] }, 'op');
    expect(n).toMatchObject({ state: 'draft', cameras: ['cam-lobby', 'cam-north'], createdAt: '2026-01-01T00:00:00.000Z' });
    expect(n.evidence).toBeUndefined();

    env.clock.advance(60_000);
    const withPhoto = await notices.attachEvidence(n.id, JPEG, 'op');
    expect(withPhoto.state).toBe('draft');
    expect(withPhoto.evidence).toMatchObject({ at: '2026-01-01T00:01:00.000Z', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(notices.evidencePhoto(n.id).equals(JPEG)).toBe(true);

    const verified = notices.verify(n.id, 'Li Wei', 'op');
    expect(verified).toMatchObject({ state: 'verified', verifiedBy: 'Li Wei', verifiedAt: '2026-01-01T00:01:00.000Z', expiresAt: '2026-04-01T00:01:00.000Z' });

    env.clock.set(verified.expiresAt!);
    expect(notices.get(n.id).state).toBe('expired');

    env.clock.advance(DAY_MS);
    const renewed = notices.verify(n.id, 'Li Wei', 'op');
    expect(renewed.state).toBe('verified');
    expect(Date.parse(renewed.expiresAt!)).toBe(env.clock.now().getTime() + REVERIFY_DAYS * DAY_MS);

    const withdrawn = notices.withdraw(n.id, 'sign taken down for renovation', 'op');
    expect(withdrawn).toMatchObject({ state: 'withdrawn', withdrawnReason: 'sign taken down for renovation', withdrawnAt: env.clock.now().toISOString() });
  });

  it('keeps withdrawn final', async () => {
    const n = notices.add({ content: content(), cameras: ['cam-north'] }, 'op');
    await notices.attachEvidence(n.id, JPEG, 'op');
    notices.withdraw(n.id, 'wrong camera list', 'op');
    expect(errorOf(() => notices.verify(n.id, 'Li Wei', 'op')).code).toBe('notice.state');
    expect(errorOf(() => notices.withdraw(n.id, 'again', 'op')).code).toBe('notice.state');
    await expect(notices.attachEvidence(n.id, PNG, 'op')).rejects.toMatchObject({ code: 'notice.state' });
    expect(notices.get(n.id).state).toBe('withdrawn');
  });

  it('refuses to verify without a photo of the installed sign, or without a named verifier', async () => {
    const n = notices.add({ content: content(), cameras: ['cam-north'] }, 'op');
    expect(errorOf(() => notices.verify(n.id, 'Li Wei', 'op')).code).toBe('notice.evidence-missing');
    await notices.attachEvidence(n.id, JPEG, 'op');
    expect(errorOf(() => notices.verify(n.id, '  ', 'op'))).toMatchObject({ code: 'input.invalid', field: 'by' });
    expect(notices.get(n.id).state).toBe('draft');
  });

  it('answers not-found for an unknown notice', () => {
    expect(errorOf(() => notices.get('nope')).code).toBe('not-found');
    expect(errorOf(() => notices.verify('nope', 'Li Wei', 'op')).code).toBe('not-found');
  });

  it('derives expired only from a verified notice past its date, failing closed without one', () => {
    const now = new Date('2026-02-01T00:00:00Z');
    expect(noticeState({ state: 'verified', expiresAt: '2026-02-01T00:00:00.001Z' }, now)).toBe('verified');
    expect(noticeState({ state: 'verified', expiresAt: '2026-02-01T00:00:00.000Z' }, now)).toBe('expired');
    expect(noticeState({ state: 'verified' }, now)).toBe('expired');
    expect(noticeState({ state: 'draft' }, now)).toBe('draft');
  });
});

describe('notice content and cameras', () => {
  it('names every field Shenzhen Art. 14 requires that is missing, in every language', () => {
    const e = errorOf(() => notices.add({ content: content({ zh: { retention: '' }, en: { contact: ' ' } }), cameras: ['cam-north'] }, 'op'));
    expect(e.code).toBe('notice.incomplete');
    expect((e.details as { missing: string[] }).missing).toEqual(['text.zh.retention', 'text.en.contact']);
  });

  it('requires the face fields only when the cameras run face recognition', () => {
    expect(notices.add({ content: content({ face: false }), cameras: ['cam-north'] }, 'op').state).toBe('draft');
    const e = errorOf(() => notices.add({ content: content({ face: true }), cameras: ['cam-lobby'] }, 'op'));
    expect(e.code).toBe('notice.incomplete');
    expect((e.details as { missing: string[] }).missing).toEqual(['text.zh.faceNecessity', 'text.zh.faceImpact']);
    const face = content({ face: true, zh: { faceNecessity: '出入口身份核验所必需', faceImpact: '影响及保护措施' } });
    expect(notices.add({ content: face, cameras: ['cam-lobby'] }, 'op').content.terms.faceRecognition).toBe(true);
  });

  it('answers a malformed body with notice.incomplete rather than a crash', () => {
    const broken = { terms: content().terms, placement: content().placement, text: {} } as unknown as NoticeContent;
    expect(errorOf(() => notices.add({ content: broken, cameras: ['cam-north'] }, 'op'))).toMatchObject({ code: 'notice.incomplete', field: 'text.zh' });
  });

  it('refuses unknown cameras and an empty camera list', () => {
    const unknown = errorOf(() => notices.add({ content: content(), cameras: ['cam-north', 'cam-ghost'] }, 'op'));
    expect(unknown).toMatchObject({ code: 'input.invalid', field: 'cameras', details: { unknown: ['cam-ghost'] } });
    expect(errorOf(() => notices.add({ content: content(), cameras: [] }, 'op'))).toMatchObject({ code: 'input.invalid', field: 'cameras' });
    expect(notices.list()).toEqual([]);
  });
});

describe('evidence photo', () => {
  it('accepts only a non-empty JPEG or PNG', async () => {
    const n = notices.add({ content: content(), cameras: ['cam-north'] }, 'op');
    for (const bad of [Buffer.alloc(0), Buffer.from('GIF89a....'), Buffer.from('%PDF-1.7')]) {
      await expect(notices.attachEvidence(n.id, bad, 'op')).rejects.toMatchObject({ code: 'input.invalid', field: 'photo' });
    }
    expect(env.blobs.list()).toEqual([]);
    expect((await notices.attachEvidence(n.id, PNG, 'op')).evidence).toBeDefined();
  });

  it('stores the photo encrypted and removes the replaced one after re-attaching', async () => {
    const n = notices.add({ content: content(), cameras: ['cam-north'] }, 'op');
    const first = (await notices.attachEvidence(n.id, JPEG, 'op')).evidence!;
    expect(readFileSync(join(env.blobs.dir, first.file)).includes(Buffer.from('sign photo'))).toBe(false);
    const second = (await notices.attachEvidence(n.id, PNG, 'op')).evidence!;
    expect(second.sha256).not.toBe(first.sha256);
    expect(env.blobs.list()).toEqual([second.file]);
    expect(notices.evidencePhoto(n.id).equals(PNG)).toBe(true);
    // the same photo again keeps its one file
    await notices.attachEvidence(n.id, PNG, 'op');
    expect(env.blobs.list()).toEqual([second.file]);
  });
});

describe('currentFor', () => {
  async function verified(cameras: string[]): Promise<string> {
    const n = notices.add({ content: content(), cameras }, 'op');
    await notices.attachEvidence(n.id, JPEG, 'op');
    notices.verify(n.id, 'Li Wei', 'op');
    return n.id;
  }

  it('picks the latest verified notice covering the camera, and nothing after expiry or withdrawal', async () => {
    const draft = notices.add({ content: content(), cameras: ['cam-north'] }, 'op');
    expect(notices.currentFor('cam-north', env.clock.now())).toBeUndefined();
    const a = await verified(['cam-north', 'cam-lobby']);
    env.clock.advance(10 * DAY_MS);
    const b = await verified(['cam-north']);
    const now = env.clock.now();
    expect(notices.currentFor('cam-north', now)?.id).toBe(b);
    expect(notices.currentFor('cam-lobby', now)?.id).toBe(a);
    expect(notices.currentFor('cam-east', now)).toBeUndefined();
    expect(notices.currentFor('cam-north', now)?.id).not.toBe(draft.id);

    notices.withdraw(b, 'moved', 'op');
    expect(notices.currentFor('cam-north', now)?.id).toBe(a);
    // a lapses 90 days after its verification; b is withdrawn
    const aExpires = new Date(notices.get(a).expiresAt!);
    expect(notices.currentFor('cam-north', new Date(aExpires.getTime() - 1))?.id).toBe(a);
    expect(notices.currentFor('cam-north', aExpires)).toBeUndefined();
    expect(notices.currentFor('cam-lobby', aExpires)).toBeUndefined();
  });

  it('does not cover a frame stamped before the verification', async () => {
    const before = env.clock.now();
    env.clock.advance(1000);
    const id = await verified(['cam-north']);
    expect(notices.currentFor('cam-north', before)).toBeUndefined();
    // The answer for `before` must not be kept past the verification time (a clock set back).
    expect(notices.currentFor('cam-north', new Date(before.getTime() + 999))).toBeUndefined();
    expect(notices.currentFor('cam-north', new Date(before.getTime() + 1000))?.id).toBe(id);
    expect(notices.currentFor('cam-north', before)).toBeUndefined();
  });

  it('sees a withdrawal committed by another connection (the CLI in another process)', async () => {
    const id = await verified(['cam-north']);
    const now = env.clock.now();
    expect(notices.currentFor('cam-north', now)?.id).toBe(id);
    const db2 = openDatabase(join(env.dir, 'agent.db'));
    try {
      const audit = createAuditLog({ db: db2, clock: env.clock });
      const outbox = createOutbox({ db: db2, keys: env.keys, agentId: 'agent-cli', clock: env.clock, ids: env.ids });
      const cli = createNoticeRegister({ ...env, db: db2, audit, outbox, reverifyDays: REVERIFY_DAYS, knownCameras: () => CAMERAS });
      cli.withdraw(id, 'sign removed', 'op');
    } finally {
      db2.close();
    }
    expect(notices.currentFor('cam-north', now)).toBeUndefined();
  });

  it('forgets what it saw inside a notice write that rolled back', async () => {
    const id = await verified(['cam-north']);
    const now = env.clock.now();
    expect(notices.currentFor('cam-north', now)?.id).toBe(id);
    const rolledBack = env.db.transaction(() => {
      notices.withdraw(id, 'mistake', 'op');
      expect(notices.currentFor('cam-north', now)).toBeUndefined();
      throw new Error('roll back');
    });
    expect(() => rolledBack.immediate()).toThrow('roll back');
    expect(notices.currentFor('cam-north', now)?.id).toBe(id);
  });

  it('sees state changed by another process (a second register on the same database)', async () => {
    const id = await verified(['cam-north']);
    const other = createNoticeRegister({ ...env, reverifyDays: REVERIFY_DAYS, knownCameras: () => CAMERAS });
    expect(other.currentFor('cam-north', env.clock.now())?.id).toBe(id);
    notices.withdraw(id, 'sign stolen', 'op');
    expect(other.currentFor('cam-north', env.clock.now())).toBeUndefined();
  });

  it('lists by camera and by derived state', async () => {
    const a = await verified(['cam-north']);
    const b = notices.add({ content: content(), cameras: ['cam-lobby'] }, 'op').id;
    expect(notices.list({ camera: 'cam-lobby' }).map((n) => n.id)).toEqual([b]);
    expect(notices.list({ state: 'verified' }).map((n) => n.id)).toEqual([a]);
    env.clock.advance(REVERIFY_DAYS * DAY_MS);
    expect(notices.list({ state: 'verified' })).toEqual([]);
    expect(notices.list({ state: 'expired' }).map((n) => n.id)).toEqual([a]);
  });
});

describe('audit and reports', () => {
  it('leaves an audit entry and a signed outbox row for every change, with no names or photos in them', async () => {
    const n = notices.add({ content: content(), cameras: ['cam-north'] }, 'op');
    await notices.attachEvidence(n.id, JPEG, 'op');
    notices.verify(n.id, 'Li Wei', 'op');
    notices.withdraw(n.id, 'replaced by a larger sign', 'op');
    expect(() => notices.verify(n.id, 'Li Wei', 'op')).toThrow(CamwardenError);

    const entries = env.audit.tail(100);
    expect(entries.map((e) => [e.action, e.object, e.actor])).toEqual([
      ['notice.add', n.id, 'op'],
      ['notice.evidence', n.id, 'op'],
      ['notice.verify', n.id, 'op'],
      ['notice.withdraw', n.id, 'op'],
    ]);
    expect(env.audit.verify()).toMatchObject({ ok: true, entries: 4 });

    const sent = env.outbox.pending(100);
    expect(sent.map((e) => [e.kind, e.body['state']])).toEqual([
      ['notice-changed', 'draft'],
      ['notice-changed', 'draft'],
      ['notice-changed', 'verified'],
      ['notice-changed', 'withdrawn'],
    ]);
    expect(sent[2]?.body).toEqual({ notice: n.id, state: 'verified', cameras: ['cam-north'], expiresAt: notices.get(n.id).expiresAt });
    expect(sent.every((e) => verifyEnvelope(e, env.keys.publicKey))).toBe(true);

    const written = JSON.stringify(sent) + JSON.stringify(entries);
    expect(written).not.toContain('Li Wei');
    expect(written).not.toContain(JPEG.toString('base64'));
  });
});
