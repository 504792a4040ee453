import { describe, expect, it } from 'vitest';
import { decideCapture, decideCaptureSafely, type GateSnapshot } from '../../agent/capture/capture-gate.js';
import type { Notice } from '../../agent/notices/notice-register.js';
import type { Pia } from '../../agent/assessments/pia-register.js';

const now = new Date('2026-03-01T12:00:00Z');
const rules = {
  forbiddenLocationClasses: ['hotel-room', 'toilet', 'changing-room'],
  citations: { notice: 'PIPL Art. 26', noticeContent: 'Shenzhen Art. 14', privateSpace: 'Measures Art. 13', pia: 'Measures Art. 9' },
};
const text = { title: 't', handler: 'h', contact: 'c', dataTypes: 'd', purpose: 'p', method: 'm', retention: 'r', security: 's', rights: 'r', howToExercise: 'h' };

function notice(over: Partial<Notice> = {}, terms: Partial<Notice['content']['terms']> = {}): Notice {
  return {
    id: 'n1',
    createdAt: '2026-02-01T00:00:00Z',
    state: 'verified',
    content: { terms: { handler: 'Plaza Co', purpose: 'public-safety', retentionDays: 30, faceRecognition: false, ...terms }, text: { zh: text }, placement: { location: 'gate' } },
    cameras: ['cam-a'],
    verifiedAt: '2026-02-01T00:00:00Z',
    expiresAt: '2026-05-01T00:00:00Z',
    ...over,
  };
}
const pia = (over: Partial<Pia> = {}): Pia => ({
  id: 'p1',
  subject: 's',
  version: 1,
  content: { lawfulness: 'l', impact: 'i', risks: 'r', safeguards: 's' },
  cameras: ['cam-a'],
  signedBy: 'x',
  signedAt: '2026-01-01T00:00:00Z',
  reviewBy: '2027-01-01T00:00:00Z',
  retainUntil: '2029-01-01T00:00:00Z',
  createdAt: '2026-01-01T00:00:00Z',
  current: true,
  ...over,
});
const camera = (over: Partial<NonNullable<GateSnapshot['camera']>> = {}) => ({ id: 'cam-a', enabled: true, faceRecognition: false, locationClass: 'entrance', ...over });
const practice = { handler: 'Plaza Co', purpose: 'public-safety' as const, retentionDays: 30 };

const cases: [string, GateSnapshot, string | null][] = [
  ['allows a camera covered by a current verified notice', { camera: camera(), notice: notice(), pia: undefined, practice }, null],
  ['blocks an unknown camera', { camera: undefined, notice: notice(), pia: undefined, practice }, 'camera-unknown'],
  ['blocks a disabled camera', { camera: camera({ enabled: false }), notice: notice(), pia: undefined, practice }, 'camera-disabled'],
  ['blocks a camera in a toilet even with a notice', { camera: camera({ locationClass: 'toilet' }), notice: notice(), pia: undefined, practice }, 'private-space'],
  ['blocks a camera in a hotel room', { camera: camera({ locationClass: 'hotel-room' }), notice: notice(), pia: undefined, practice }, 'private-space'],
  ['blocks without a notice', { camera: camera(), notice: undefined, pia: undefined, practice }, 'no-notice'],
  ['blocks a draft notice', { camera: camera(), notice: notice({ state: 'draft' }), pia: undefined, practice }, 'no-notice'],
  ['blocks a withdrawn notice', { camera: camera(), notice: notice({ state: 'withdrawn' }), pia: undefined, practice }, 'no-notice'],
  ['blocks a notice that expired a millisecond ago', { camera: camera(), notice: notice({ expiresAt: '2026-03-01T11:59:59.999Z' }), pia: undefined, practice }, 'no-notice'],
  ['blocks a notice expiring exactly now', { camera: camera(), notice: notice({ expiresAt: now.toISOString() }), pia: undefined, practice }, 'no-notice'],
  ['blocks a sign promising 30 days while the config keeps 90', { camera: camera(), notice: notice(), pia: undefined, practice: { ...practice, retentionDays: 90 } }, 'notice-mismatch'],
  ['blocks a sign naming another handler', { camera: camera(), notice: notice({}, { handler: 'Someone else' }), pia: undefined, practice }, 'notice-mismatch'],
  ['blocks a face camera whose sign does not announce face recognition', { camera: camera({ faceRecognition: true }), notice: notice(), pia: pia(), practice }, 'notice-mismatch'],
  ['blocks a face camera without an impact assessment', { camera: camera({ faceRecognition: true }), notice: notice({}, { faceRecognition: true }), pia: undefined, practice }, 'no-impact-assessment'],
  ['blocks a face camera whose assessment is past its review date', { camera: camera({ faceRecognition: true }), notice: notice({}, { faceRecognition: true }), pia: pia({ reviewBy: '2026-02-28T00:00:00Z' }), practice }, 'no-impact-assessment'],
  ['blocks a face camera whose assessment is superseded', { camera: camera({ faceRecognition: true }), notice: notice({}, { faceRecognition: true }), pia: pia({ current: false }), practice }, 'no-impact-assessment'],
  ['allows a face camera with an announcing sign and a current assessment', { camera: camera({ faceRecognition: true }), notice: notice({}, { faceRecognition: true }), pia: pia(), practice }, null],
];

describe('decideCapture', () => {
  it.each(cases)('%s', (_name, snapshot, reason) => {
    const d = decideCapture('cam-a', snapshot, rules, now);
    if (reason === null) {
      expect(d.allow).toBe(true);
    } else {
      expect(d.allow).toBe(false);
      if (!d.allow) {
        expect(d.reason).toBe(reason);
        expect(d.citation).not.toBe('');
      }
    }
  });

  it('cites the article behind each block', () => {
    const d = decideCapture('cam-a', { camera: camera({ locationClass: 'changing-room' }), notice: notice(), pia: undefined, practice }, rules, now);
    expect(d).toMatchObject({ allow: false, rule: 'location.private-space', citation: 'Measures Art. 13' });
    const m = decideCapture('cam-a', { camera: camera(), notice: notice(), pia: undefined, practice: { ...practice, retentionDays: 90 } }, rules, now);
    expect(m).toMatchObject({ allow: false, citation: 'Shenzhen Art. 14' });
    expect(!m.allow && m.message).toContain('30 days');
  });

  it('fails closed when loading the state throws', () => {
    const d = decideCaptureSafely('cam-a', () => {
      throw new Error('database is locked');
    }, rules, now);
    expect(d).toMatchObject({ allow: false, reason: 'gate-error' });
  });
});
