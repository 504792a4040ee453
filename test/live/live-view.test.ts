import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { CLOSE_CODES, type LiveViewDeps } from '../../agent/live/live-view.js';
import { findSequenceSize, streamHeader } from '../../agent/live/mpeg1-relay.js';
import type { CameraSimulator } from '../fixtures/camera-simulator/index.js';
import { sampleNoticeContent, verifiedNotice } from '../helpers/agent-env.js';
import { alive, CAM, CAM_PASS, FACE_CAM, hasTsPackets, makeLiveEnv, startSimulator, streamUrlOf, waitFor, watch, type LiveEnv, type Viewer } from './live-env.js';

let sim: CameraSimulator;
let le: LiveEnv | undefined;
const viewers: Viewer[] = [];

beforeAll(async () => {
  sim = await startSimulator();
});
afterAll(async () => {
  await sim.stop();
});
afterEach(async () => {
  for (const v of viewers.splice(0)) v.ws.terminate();
  await le?.close();
  le = undefined;
});

async function setup(resolve?: (id: string) => Promise<string>, over: Partial<LiveViewDeps> = {}): Promise<LiveEnv> {
  le = await makeLiveEnv(resolve ?? (async () => streamUrlOf(sim)), over);
  return le;
}

function open(e: LiveEnv, path: string, options: WebSocket.ClientOptions = {}): Viewer {
  const v = watch(`${e.wsBase}${path}`, options);
  viewers.push(v);
  return v;
}

/** A viewer of CAM that has received the header and some MPEG-TS. */
async function streaming(e: LiveEnv): Promise<Viewer> {
  const t = await e.ticket();
  const v = open(e, t.url);
  await waitFor('MPEG-TS packets', () => hasTsPackets(v));
  return v;
}

describe('the stream header and MPEG-1 parsing', () => {
  it('writes node-rtsp-stream\'s jsmp header and reads a sequence header\'s size', () => {
    expect(streamHeader(640, 360)).toEqual(Buffer.from([0x6a, 0x73, 0x6d, 0x70, 0x02, 0x80, 0x01, 0x68]));
    // 00 00 01 B3, then 12 bits width (640 = 0x280), 12 bits height (360 = 0x168)
    const es = Buffer.from([0x47, 0x00, 0x00, 0x00, 0x01, 0xb3, 0x28, 0x01, 0x68, 0x13]);
    expect(findSequenceSize(es)).toEqual({ width: 640, height: 360 });
    expect(findSequenceSize(es.subarray(0, 8))).toBeUndefined();
  });
});

describe('live view', () => {
  it('streams a covered camera to the security role: jsmp header, then MPEG-TS from one shared ffmpeg', async () => {
    const e = await setup();
    await verifiedNotice(e.env.services, [CAM]);
    const t = await e.ticket();
    expect(t.url).toBe(`/v1/live/${t.ticket}`);
    expect(t.ticket).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Date.parse(t.expiresAt) - e.env.clock.now().getTime()).toBe(30_000);

    const a = open(e, t.url);
    await waitFor('MPEG-TS packets', () => hasTsPackets(a));
    const header = a.messages[0]!;
    expect(header.subarray(0, 4).toString('ascii')).toBe('jsmp');
    expect([header.readUInt16BE(4), header.readUInt16BE(6)]).toEqual([640, 360]);
    const [relay] = e.live.relays();
    expect(relay).toMatchObject({ camera: CAM, viewers: 1 });
    const pid = relay!.pid!;
    expect(alive(pid)).toBe(true);

    // A second viewer joins the running ffmpeg: header first, then whole TS packets.
    const b = open(e, (await e.ticket()).url);
    await waitFor('second viewer packets', () => hasTsPackets(b));
    expect(b.messages[0]!.subarray(0, 4).toString('ascii')).toBe('jsmp');
    expect(e.live.relays()).toEqual([{ camera: CAM, pid, viewers: 2 }]);

    a.ws.close();
    await waitFor('one viewer left', () => e.live.relays()[0]?.viewers === 1);
    expect(alive(pid)).toBe(true);
    b.ws.close();
    await waitFor('ffmpeg gone', () => !alive(pid), 5_000);
    expect(e.live.relays()).toEqual([]);
    await waitFor('two end entries', () => e.liveAudit().filter((x) => x.action === 'live.end').length === 2);

    const audit = e.liveAudit();
    expect(audit.map((x) => x.action)).toEqual(['live.start', 'live.start', 'live.end', 'live.end']);
    for (const x of audit) {
      expect(x).toMatchObject({ actor: 'http:security-test', object: `camera:${CAM}` });
      expect(JSON.stringify(x)).not.toContain(t.ticket);
    }
    const end = audit[2]!.detail;
    expect(end).toMatchObject({ reason: 'viewer-closed', notice: t.notice, from: audit[0]!.detail['from'], to: expect.any(String) });
    expect(end['bytes']).toBeGreaterThan(188 * 5);
    expect(audit[0]).toMatchObject({ decision: 'permit', detail: { session: end['session'] } });
    expect(e.logLines.join('')).not.toContain(CAM_PASS);
  });

  it('refuses other roles (403), no token (401), an unknown camera (404) and a malformed id (400)', async () => {
    const e = await setup();
    await verifiedNotice(e.env.services, [CAM]);
    for (const role of ['operator', 'kiosk', 'gate', 'auditor'] as const) {
      const r = await e.ask(role);
      expect([role, r.status, r.body['code']]).toEqual([role, 403, 'auth.forbidden']);
    }
    expect(await e.ask(null)).toMatchObject({ status: 401, body: { code: 'auth.missing' } });
    expect(await e.ask('security', 'cam-nowhere')).toMatchObject({ status: 404, body: { code: 'not-found' } });
    expect(await e.ask('security', 'Bad_Camera!')).toMatchObject({ status: 400, body: { code: 'input.invalid' } });
    const list = await fetch(`${e.base}/v1/live`, { headers: { authorization: `Bearer ${e.env.tokens.operator}` } });
    expect(list.status).toBe(403);
    expect(e.live.relays()).toEqual([]);
  });

  it('refuses a camera without a current notice, and one the gate refuses otherwise, without starting ffmpeg', async () => {
    const e = await setup();
    const r = await e.ask('security');
    expect(r).toMatchObject({ status: 403, body: { code: 'notice.missing' } });
    expect(String(r.body['message'])).toContain('PIPL Art. 26');
    // Face recognition without an impact assessment: covered, still not watchable.
    await verifiedNotice(e.env.services, [FACE_CAM], sampleNoticeContent({ faceRecognition: true }));
    expect(await e.ask('security', FACE_CAM)).toMatchObject({ status: 403, body: { code: 'capture.blocked' } });
    expect(e.live.relays()).toEqual([]);
    expect(e.liveAudit()).toEqual([
      expect.objectContaining({ action: 'live.refused', decision: 'deny', rule: 'notice.required', object: `camera:${CAM}`, actor: 'http:security-test' }),
      expect.objectContaining({ action: 'live.refused', decision: 'deny', rule: 'pia.required', object: `camera:${FACE_CAM}` }),
    ]);
    const cams = await fetch(`${e.base}/v1/live`, { headers: { authorization: `Bearer ${e.env.tokens.security}` } });
    expect(await cams.json()).toEqual([
      { id: CAM, name: 'North gate', available: false, reason: 'no-notice', viewers: 0 },
      { id: FACE_CAM, name: 'East lobby', available: false, reason: 'no-impact-assessment', viewers: 0 },
    ]);
  });

  it('takes a ticket once, not after 30 s, and not after the notice went; garbage and other paths are refused', async () => {
    const e = await setup();
    const notice = await verifiedNotice(e.env.services, [CAM]);
    const once = await e.ticket();
    const first = open(e, once.url);
    await waitFor('first socket open', () => first.ws.readyState === first.ws.OPEN);
    first.ws.close();
    await first.whenClosed;
    const again = open(e, once.url);
    await again.whenClosed;
    expect(again.refused).toBe(401);

    const late = await e.ticket();
    e.env.clock.advance(30_001);
    const expired = open(e, late.url);
    await expired.whenClosed;
    expect(expired.refused).toBe(401);

    // A plain GET is told to upgrade.
    const plain = await fetch(`${e.base}${(await e.ticket()).url}`);
    expect(plain.status).toBe(426);

    const before = await e.ticket();
    e.env.services.notices.withdraw(notice, 'sign taken down', 'test');
    const gone = open(e, before.url);
    await gone.whenClosed;
    expect(gone.refused).toBe(403);

    for (const path of ['/v1/live/garbage', '/v1/live/', `/v1/live/${'A'.repeat(43)}`, '/v1/notices', '/nowhere/at/all']) {
      const v = open(e, path);
      await v.whenClosed;
      expect([path, v.refused]).toEqual([path, path.startsWith('/v1/live/') ? 401 : 404]);
    }
    // The server is still up after all that.
    expect((await fetch(`${e.base}/v1/health`)).status).toBe(200);
    expect(e.live.relays()).toEqual([]);
  });

  it('cuts the viewer within a second of the notice being withdrawn, kills ffmpeg and audits why', async () => {
    const e = await setup();
    const notice = await verifiedNotice(e.env.services, [CAM]);
    const v = await streaming(e);
    const pid = e.live.relays()[0]!.pid!;
    const t0 = performance.now();
    e.env.services.notices.withdraw(notice, 'sign taken down', 'test');
    const closed = await v.whenClosed;
    const ms = closed.at - t0;
    console.log(`live view: withdraw -> socket closed in ${ms.toFixed(0)} ms`);
    expect(ms).toBeLessThan(1000);
    expect(closed).toMatchObject({ code: CLOSE_CODES['notice-withdrawn'], reason: 'notice-withdrawn' });
    await waitFor('ffmpeg gone', () => !alive(pid), 5_000);
    const end = e.liveAudit().find((x) => x.action === 'live.end');
    expect(end).toMatchObject({ actor: 'http:security-test', object: `camera:${CAM}`, detail: { reason: 'notice-withdrawn', notice, rule: 'notice.required' } });
  });

  it('cuts the viewer within a second of the notice expiring', async () => {
    const e = await setup();
    const notice = await verifiedNotice(e.env.services, [CAM]);
    const v = await streaming(e);
    const t0 = performance.now();
    e.env.clock.set(e.env.services.notices.get(notice).expiresAt!);
    const closed = await v.whenClosed;
    console.log(`live view: expiry -> socket closed in ${(closed.at - t0).toFixed(0)} ms`);
    expect(closed.at - t0).toBeLessThan(1000);
    expect(closed).toMatchObject({ code: 4403, reason: 'notice-expired' });
    await waitFor('end entry', () => e.liveAudit().some((x) => x.action === 'live.end'));
    const [start, end] = e.liveAudit();
    expect(start!.action).toBe('live.start');
    expect(end!.detail).toMatchObject({ reason: 'notice-expired', from: start!.detail['from'], to: e.env.clock.now().toISOString() });
  });

  it('keeps streaming when another current notice still covers the camera', async () => {
    const e = await setup();
    const first = await verifiedNotice(e.env.services, [CAM]);
    e.env.clock.advance(1000);
    const second = await verifiedNotice(e.env.services, [CAM]);
    const t = await e.ticket();
    const v = open(e, t.url);
    await waitFor('socket open', () => v.ws.readyState === v.ws.OPEN);
    e.env.services.notices.withdraw(first, 'replaced by a new sign', 'test');
    await new Promise((r) => setTimeout(r, 600));
    expect(v.closed).toBeUndefined();
    e.env.services.notices.withdraw(second, 'taken down', 'test');
    expect(await v.whenClosed).toMatchObject({ reason: 'notice-withdrawn' });
  });

  it('cuts every session when the server closes (agent-stopping), audited', async () => {
    const e = await setup();
    await verifiedNotice(e.env.services, [CAM]);
    const t = await e.ticket();
    const v = open(e, t.url);
    await waitFor('session open', () => e.live.sessions().length === 1);
    const pid = await waitFor('ffmpeg started', () => e.live.relays()[0]?.pid);
    await e.app.close();
    expect(await v.whenClosed).toMatchObject({ code: 1001, reason: 'agent-stopping' });
    expect(alive(pid)).toBe(false);
    expect(e.liveAudit().at(-1)).toMatchObject({ action: 'live.end', detail: { reason: 'agent-stopping' } });
    expect((await e.ask('security').catch(() => ({ status: 0 }))).status).toBe(0);
  });

  it('reports a camera ffmpeg cannot reach as stream-failed: socket closed, audited, no password anywhere', async () => {
    const e = await setup(async () => `rtsp://admin:${CAM_PASS}@127.0.0.1:1/onvif/Profile_1/media.smp`);
    await verifiedNotice(e.env.services, [CAM]);
    const v = open(e, (await e.ticket()).url);
    expect(await v.whenClosed).toMatchObject({ code: 4502, reason: 'stream-failed' });
    expect(e.live.relays()).toEqual([]);
    const end = e.liveAudit().find((x) => x.action === 'live.end');
    expect(end?.detail).toMatchObject({ reason: 'stream-failed', failure: 'exited' });
    const logs = e.logLines.join('');
    expect(logs).toContain('live stream failed');
    expect(logs).not.toContain(CAM_PASS);
    expect(JSON.stringify(e.liveAudit())).not.toContain(CAM_PASS);
  });

  it('cuts the viewers with stream-failed when the camera stream dies mid-view', async () => {
    const e = await setup();
    await verifiedNotice(e.env.services, [CAM]);
    const v = await streaming(e);
    const pid = e.live.relays()[0]!.pid!;
    sim.killStream();
    try {
      expect(await v.whenClosed).toMatchObject({ code: 4502, reason: 'stream-failed' });
      expect(alive(pid)).toBe(false);
      expect(e.liveAudit().find((x) => x.action === 'live.end')?.detail).toMatchObject({ reason: 'stream-failed' });
    } finally {
      await sim.restartStream();
    }
  });

  it('reports a stream URL that cannot be resolved as stream-failed', async () => {
    const e = await setup(async () => {
      throw new Error('no stream URI in the inventory');
    });
    await verifiedNotice(e.env.services, [CAM]);
    const v = open(e, (await e.ticket()).url);
    expect(await v.whenClosed).toMatchObject({ code: 4502, reason: 'stream-failed' });
    expect(e.liveAudit().find((x) => x.action === 'live.end')?.detail).toMatchObject({ failure: 'url-failed' });
  });

  it('drops a viewer that stops answering pings, so the session ends when the viewer went', async () => {
    const e = await setup(undefined, { pingEveryMs: 300 });
    await verifiedNotice(e.env.services, [CAM]);
    const v = open(e, (await e.ticket()).url, { autoPong: false });
    await waitFor('session open', () => e.live.sessions().length === 1);
    await v.whenClosed;
    const end = await waitFor('end entry', () => e.liveAudit().find((x) => x.action === 'live.end'));
    expect(end.detail).toMatchObject({ reason: 'viewer-closed', unanswered: true });
    expect(e.live.sessions()).toEqual([]);
  });

  it('refuses to show anything the audit log cannot record', async () => {
    const e = await setup();
    await verifiedNotice(e.env.services, [CAM]);
    const append = e.env.services.audit.append;
    e.env.services.audit.append = (entry) => {
      if (entry.action === 'live.start') throw new Error('disk full');
      return append(entry);
    };
    const v = open(e, (await e.ticket()).url);
    expect(await v.whenClosed).toMatchObject({ code: 1011, reason: 'audit-failed' });
    expect(v.bytes()).toBe(0);
    expect(e.live.sessions()).toEqual([]);
    expect(e.live.relays()).toEqual([]);
  });

  it('serves the page with a strict CSP, JSMpeg from node_modules, and documents the API in OpenAPI', async () => {
    const e = await setup();
    const html = await fetch(`${e.base}/live`);
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toContain('text/html');
    const csp = html.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self' 'wasm-unsafe-eval'");
    expect(csp).not.toContain('unsafe-inline');
    expect(await html.text()).not.toMatch(/<script>|<style>|\son\w+=/);
    const js = await fetch(`${e.base}/live/jsmpeg.min.js`);
    expect(js.status).toBe(200);
    expect(await js.text()).toContain('JSMpeg');
    const doc = (await (await fetch(`${e.base}/openapi.json`)).json()) as { paths: Record<string, Record<string, { security?: unknown }>> };
    expect(doc.paths['/v1/cameras/{id}/live']?.['post']?.security).toEqual([{ bearer: [] }]);
    expect(doc.paths['/v1/live/{ticket}']?.['get']).toBeDefined();
    expect(doc.paths['/v1/live']?.['get']).toBeDefined();
    expect(doc.paths['/live']).toBeUndefined();
  });
});
