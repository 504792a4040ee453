import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { untagJpeg, verifyTaggedJpeg } from '../../agent/capture/image-tag.js';
import { exportImage } from '../../agent/purpose/export-image.js';
import { openDatabase } from '../../agent/store/open-database.js';
import { isCamwardenError } from '../../agent/errors.js';
import { makeAgentEnv, sampleJpeg, sampleNoticeContent, verifiedNotice, type AgentEnv } from '../helpers/agent-env.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
let env: AgentEnv;
afterEach(() => env?.cleanup());

function auditActions(e: AgentEnv, action: string) {
  return e.services.audit.tail(100_000).filter((a) => a.action === action);
}

describe('the capture path', () => {
  it('drops a frame from a camera without a notice: nothing written, a blocked violation recorded and reported', async () => {
    env = makeAgentEnv();
    const s = env.services;
    const r = await s.capture.ingest('cam-north-gate', await sampleJpeg());
    expect(r).toMatchObject({ status: 'blocked', reason: 'no-notice', citation: expect.stringContaining('Art.') });
    expect(s.images.count()).toBe(0);
    expect(s.blobs.list()).toEqual([]);
    const blocked = auditActions(env, 'capture-blocked');
    expect(blocked).toHaveLength(1);
    expect(JSON.parse(blocked[0]!.detail!)).toMatchObject({ reason: 'no-notice', count: 1 });
    expect(s.outbox.pending(10).map((e) => e.kind)).toContain('capture-blocked');
  });

  it('rate-limits capture-blocked entries to one per camera per window, with the count', async () => {
    env = makeAgentEnv();
    const s = env.services;
    const jpeg = await sampleJpeg();
    for (let i = 0; i < 100; i++) await s.capture.ingest('cam-north-gate', jpeg);
    expect(auditActions(env, 'capture-blocked')).toHaveLength(1);
    env.clock.advance(61_000);
    await s.capture.ingest('cam-north-gate', jpeg);
    const entries = auditActions(env, 'capture-blocked').map((a) => JSON.parse(a.detail!).count as number);
    expect(entries).toEqual([1, 99, 1]);
    expect(s.capture.counters().blocked['no-notice']).toBe(101);
  });

  it('stores a covered frame tagged, encrypted, with its row, audit entry and outbox event', async () => {
    env = makeAgentEnv();
    const s = env.services;
    const noticeId = await verifiedNotice(s, ['cam-north-gate']);
    const original = await sampleJpeg(320, 240);
    const r = await s.capture.ingest('cam-north-gate', original);
    expect(r).toMatchObject({ status: 'stored', width: 320, height: 240, noticeId });
    if (r.status !== 'stored') return;
    const rec = s.images.get(r.imageId);
    expect(rec).toMatchObject({ cameraId: 'cam-north-gate', noticeId, purpose: 'public-safety', originalSha256: sha(original) });
    expect(Date.parse(rec.retainUntil) - Date.parse(rec.capturedAt)).toBe(30 * 86_400_000);

    // On disk only ciphertext: neither the JPEG marker nor any slice of the image appears.
    const onDisk = readFileSync(join(s.blobs.dir, rec.blobFile));
    expect(onDisk.subarray(0, 4).toString()).toBe('CWB1');
    expect(onDisk.includes(original.subarray(200, 232))).toBe(false);

    const { bytes } = exportImage({ images: s.images, blobs: s.blobs, audit: s.audit, citations: s.profile.citations }, { imageId: r.imageId, purpose: 'public-safety', legalBasisRef: 'case 2026-001', actor: 'test', role: 'security' });
    expect(JSON.parse(auditActions(env, 'image.export')[0]!.detail!).sha256).toBe(sha(bytes));
    expect(untagJpeg(bytes).equals(original)).toBe(true);
    const v = verifyTaggedJpeg(bytes, (id) => (id === s.keys.keyId ? s.keys.publicKey : undefined));
    expect(v).toMatchObject({ status: 'valid', fields: { purpose: 'public-safety', camera: 'cam-north-gate', notice: noticeId, imageId: r.imageId } });
    // Pixels untouched: sharp decodes both to the same raw pixels.
    const [a, b] = await Promise.all([sharp(original).raw().toBuffer(), sharp(bytes).raw().toBuffer()]);
    expect(a.equals(b)).toBe(true);

    expect(auditActions(env, 'image.store')).toHaveLength(1);
    expect(s.outbox.pending(100).filter((e) => e.kind === 'image-stored').map((e) => e.body['image'])).toEqual([r.imageId]);
    expect(s.audit.verify().ok).toBe(true);
  });

  it('blocks at once when the notice expires, and after it is withdrawn', async () => {
    env = makeAgentEnv();
    const s = env.services;
    const id = await verifiedNotice(s, ['cam-north-gate']);
    const jpeg = await sampleJpeg();
    expect((await s.capture.ingest('cam-north-gate', jpeg)).status).toBe('stored');
    env.clock.set(new Date(Date.parse(s.notices.get(id).expiresAt!) - 1));
    expect((await s.capture.ingest('cam-north-gate', jpeg)).status).toBe('stored');
    env.clock.advance(1);
    expect(await s.capture.ingest('cam-north-gate', jpeg)).toMatchObject({ status: 'blocked', reason: 'no-notice' });

    s.notices.verify(id, 'Inspector Test', 'test');
    expect((await s.capture.ingest('cam-north-gate', jpeg)).status).toBe('stored');
    s.notices.withdraw(id, 'sign removed for renovation', 'test');
    expect(await s.capture.ingest('cam-north-gate', jpeg)).toMatchObject({ status: 'blocked', reason: 'no-notice' });
    expect(s.images.count()).toBe(3);
  });

  it('keeps nothing when the notice ends while the frame is being written (withdrawn by another process, or expired)', async () => {
    env = makeAgentEnv();
    const s = env.services;
    const id = await verifiedNotice(s, ['cam-north-gate']);
    const jpeg = await sampleJpeg();
    expect((await s.capture.ingest('cam-north-gate', jpeg)).status).toBe('stored');
    const write = s.blobs.write.bind(s.blobs);
    const during = async (what: () => void) => {
      s.blobs.write = async (name, plaintext) => {
        const file = await write(name, plaintext);
        what();
        return file;
      };
      try {
        return await s.capture.ingest('cam-north-gate', jpeg);
      } finally {
        s.blobs.write = write;
      }
    };

    // The operator's CLI: another connection to the same database file.
    const cli = openDatabase(join(env.dir, 'data', 'camwarden.db'));
    const withdrawnByCli = await during(() => {
      cli.prepare("UPDATE notices SET state = 'withdrawn', withdrawn_at = ?, withdrawn_reason = 'cli' WHERE id = ?").run(env.clock.now().toISOString(), id);
    });
    cli.close();
    expect(withdrawnByCli).toMatchObject({ status: 'blocked', reason: 'no-notice', message: expect.stringContaining('ended while the frame was being stored') });

    const second = await verifiedNotice(s, ['cam-north-gate']);
    const expiresAt = Date.parse(s.notices.get(second).expiresAt!);
    env.clock.set(new Date(expiresAt - 1));
    expect((await s.capture.ingest('cam-north-gate', jpeg)).status).toBe('stored');
    const expired = await during(() => env.clock.set(new Date(expiresAt)));
    expect(expired).toMatchObject({ status: 'blocked', reason: 'no-notice' });

    expect(s.images.count()).toBe(2);
    expect(s.blobs.list()).toHaveLength(2 + 2); // two images, two sign photos
    expect(auditActions(env, 'image.store')).toHaveLength(2);
    expect(s.outbox.pending(100).filter((e) => e.kind === 'image-stored')).toHaveLength(2);
  });

  it('blocks when the sign no longer says what the config does', async () => {
    env = makeAgentEnv();
    const s = env.services;
    await verifiedNotice(s, ['cam-north-gate'], sampleNoticeContent({ retentionDays: 90 }));
    expect(await s.capture.ingest('cam-north-gate', await sampleJpeg())).toMatchObject({ status: 'blocked', reason: 'notice-mismatch', citation: expect.stringContaining('Art. 14') });
  });

  it('never captures in a private space, notice or not', async () => {
    env = makeAgentEnv({ cameras: [{ id: 'cam-room', location: 'Room 1201', locationClass: 'hotel-room' }] });
    await verifiedNotice(env.services, ['cam-room']);
    expect(await env.services.capture.ingest('cam-room', await sampleJpeg())).toMatchObject({ status: 'blocked', reason: 'private-space', citation: expect.stringContaining('Art. 13') });
    expect(env.services.images.count()).toBe(0);
  });

  it('needs a current impact assessment before a face-recognition camera stores anything', async () => {
    env = makeAgentEnv();
    const s = env.services;
    await verifiedNotice(s, ['cam-east-lobby'], sampleNoticeContent({ faceRecognition: true }));
    const jpeg = await sampleJpeg();
    expect(await s.capture.ingest('cam-east-lobby', jpeg)).toMatchObject({ status: 'blocked', reason: 'no-impact-assessment' });
    expect(() => s.pias.add({ subject: 'lobby-face', cameras: ['cam-nowhere'], signedBy: 'DPO', content: { lawfulness: 'l', impact: 'i', risks: 'r', safeguards: 's' } }, 'test')).toThrow(/unknown camera/);
    const pia = s.pias.add({ subject: 'lobby-face', cameras: ['cam-east-lobby'], signedBy: 'DPO', content: { lawfulness: 'l', impact: 'i', risks: 'r', safeguards: 's' } }, 'test');
    const r = await s.capture.ingest('cam-east-lobby', jpeg);
    expect(r.status).toBe('stored');
    if (r.status === 'stored') expect(s.images.get(r.imageId).piaId).toBe(pia.id);
    env.clock.set(new Date(Date.parse(pia.reviewBy) + 1));
    await verifiedNotice(s, ['cam-east-lobby'], sampleNoticeContent({ faceRecognition: true }));
    expect(await s.capture.ingest('cam-east-lobby', jpeg)).toMatchObject({ status: 'blocked', reason: 'no-impact-assessment' });
  });

  it('rejects and counts what is not a sound JPEG, and keeps running', async () => {
    env = makeAgentEnv();
    const s = env.services;
    await verifiedNotice(s, ['cam-north-gate']);
    const good = await sampleJpeg();
    const huge = Buffer.from(good);
    const sof = huge.indexOf(Buffer.from([0xff, 0xc0]));
    huge.writeUInt16BE(60000, sof + 5);
    huge.writeUInt16BE(60000, sof + 7);
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: 'red' } }).png().toBuffer();
    const inputs: [string, Buffer][] = [
      ['empty', Buffer.alloc(0)],
      ['png', png],
      ['random', randomBytes(4096)],
      ['truncated', good.subarray(0, Math.floor(good.length / 2))],
      ['huge', huge],
    ];
    for (const [, bytes] of inputs) expect((await s.capture.ingest('cam-north-gate', bytes)).status).toBe('rejected');
    const rejected = s.capture.counters().rejected;
    expect(Object.values(rejected).reduce((a, b) => a + b, 0)).toBe(5);
    expect(rejected['too-large-dimensions']).toBe(1);
    expect(rejected['empty']).toBe(1);
    expect(s.images.count()).toBe(0);
    expect((await s.capture.ingest('cam-north-gate', good)).status).toBe('stored');
  });
});

describe('retention and reconcile', () => {
  it('purges expired images (row and file) but keeps those on legal hold', async () => {
    env = makeAgentEnv();
    const s = env.services;
    await verifiedNotice(s, ['cam-north-gate']);
    const jpeg = await sampleJpeg();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await s.capture.ingest('cam-north-gate', jpeg);
      if (r.status === 'stored') ids.push(r.imageId);
    }
    s.images.setHold(ids[0]!, true, 'case 2026-7');
    env.clock.advance(30 * 86_400_000 - 1);
    expect(s.purge.purge()).toMatchObject({ images: 0 });
    env.clock.advance(1);
    expect(s.purge.purge({ dryRun: true })).toMatchObject({ images: 2, held: 1, dryRun: true });
    expect(s.images.count()).toBe(3);
    const held = s.images.get(ids[0]!);
    const gone = s.images.get(ids[1]!);
    expect(s.purge.purge()).toMatchObject({ images: 2, held: 1 });
    expect(s.images.find(ids[1]!)).toBeUndefined();
    expect(existsSync(join(s.blobs.dir, gone.blobFile))).toBe(false);
    expect(existsSync(join(s.blobs.dir, held.blobFile))).toBe(true);
    expect(auditActions(env, 'image.purge')).toHaveLength(1);
    expect(s.audit.verify().ok).toBe(true);
  });

  it('purges expired images as soon as the agent starts, then on its schedule', async () => {
    env = makeAgentEnv();
    const s = env.services;
    await verifiedNotice(s, ['cam-north-gate']);
    const r = await s.capture.ingest('cam-north-gate', await sampleJpeg());
    if (r.status !== 'stored') throw new Error('not stored');
    env.clock.advance(31 * 86_400_000);
    const { createAgent } = await import('../../agent/agent.js');
    const agent = createAgent(s);
    await agent.start(new AbortController().signal);
    try {
      expect(s.images.find(r.imageId)).toBeUndefined();
    } finally {
      await agent.stop();
    }
  });

  it('reconciles: a file without a row is removed, a row without a file is recorded as lost', async () => {
    env = makeAgentEnv();
    const s = env.services;
    await verifiedNotice(s, ['cam-north-gate']);
    const r1 = await s.capture.ingest('cam-north-gate', await sampleJpeg());
    const r2 = await s.capture.ingest('cam-north-gate', await sampleJpeg());
    if (r1.status !== 'stored' || r2.status !== 'stored') throw new Error('not stored');
    const orphan = await s.blobs.write('orphan-000001', Buffer.from('never committed'));
    s.blobs.remove(s.images.get(r2.imageId).blobFile);
    const { reconcileStore } = await import('../../agent/store/reconcile.js');
    const result = reconcileStore(s);
    expect(result).toMatchObject({ orphanFilesRemoved: 1, rowsWithoutFile: [r2.imageId] });
    expect(s.blobs.exists(orphan)).toBe(false);
    expect(s.images.find(r1.imageId)).toBeDefined();
    expect(s.images.find(r2.imageId)).toBeUndefined();
    // Evidence photos of notices are not orphans.
    expect(s.blobs.list()).toHaveLength(2);
    expect(auditActions(env, 'store.reconcile')).toHaveLength(1);
    expect(reconcileStore(s)).toMatchObject({ orphanFilesRemoved: 0, rowsWithoutFile: [] });
  });

  it('refuses a marketing export and records the denial', async () => {
    env = makeAgentEnv();
    const s = env.services;
    await verifiedNotice(s, ['cam-north-gate']);
    const r = await s.capture.ingest('cam-north-gate', await sampleJpeg());
    if (r.status !== 'stored') throw new Error('not stored');
    let caught: unknown;
    try {
      exportImage({ images: s.images, blobs: s.blobs, audit: s.audit, citations: s.profile.citations }, { imageId: r.imageId, purpose: 'marketing', actor: 'test', role: 'security' });
    } catch (error) {
      caught = error;
    }
    expect(isCamwardenError(caught, 'purpose.denied')).toBe(true);
    expect(auditActions(env, 'image.export').at(-1)).toMatchObject({ decision: 'deny', rule: 'purpose.consent-required' });
  });
});

describe('privacy masks in the capture path (Measures Art. 13)', () => {
  const mask = { name: 'neighbour-window', points: [[0, 0], [0.5, 0], [0.5, 0.5], [0, 0.5]] as [number, number][] };

  it('burns the masks in before anything is stored; the masked image is the original for the tag', async () => {
    env = makeAgentEnv({ cameras: [{ id: 'cam-yard', location: 'Yard', locationClass: 'square', privacyMasks: [mask] }] });
    const s = env.services;
    await verifiedNotice(s, ['cam-yard']);
    const original = await sharp({ create: { width: 320, height: 240, channels: 3, background: { r: 230, g: 230, b: 230 } } }).jpeg().toBuffer();
    const r = await s.capture.ingest('cam-yard', original);
    if (r.status !== 'stored') throw new Error(JSON.stringify(r));
    const stored = s.blobs.read(s.images.get(r.imageId).blobFile);
    const { data } = await sharp(stored).raw().toBuffer({ resolveWithObject: true });
    const px = (x: number, y: number) => data[(y * 320 + x) * 3]!;
    expect(px(40, 40)).toBeLessThan(20);
    expect(px(280, 200)).toBeGreaterThan(200);
    const v = verifyTaggedJpeg(stored, () => s.keys.publicKey);
    expect(v.status).toBe('valid');
    expect(untagJpeg(stored).equals(original)).toBe(false);
    expect(sha(untagJpeg(stored))).toBe(s.images.get(r.imageId).originalSha256);
  });

  it('stores the frame as sent when the camera applies the masks itself', async () => {
    env = makeAgentEnv({ cameras: [{ id: 'cam-yard', location: 'Yard', locationClass: 'square', privacyMasks: [mask] }] });
    const s = env.services;
    await verifiedNotice(s, ['cam-yard']);
    s.capture.setMaskedByCamera('cam-yard', true);
    const original = await sampleJpeg(320, 240);
    const r = await s.capture.ingest('cam-yard', original);
    if (r.status !== 'stored') throw new Error(JSON.stringify(r));
    expect(untagJpeg(s.blobs.read(s.images.get(r.imageId).blobFile)).equals(original)).toBe(true);
  });
});
