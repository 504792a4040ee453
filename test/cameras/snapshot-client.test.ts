import { getEventListeners } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CameraError } from '../../agent/cameras/onvif-camera.js';
import { fetchSnapshot, parseChallenge, type Challenge } from '../../agent/cameras/snapshot-client.js';
import { resolveOnvifHost, trustedCameraUri } from '../../agent/cameras/stream-url.js';
import { createCameraSimulator, type CameraSimulator } from '../fixtures/camera-simulator/index.js';

const USER = 'operator';
const PASS = 'correct horse 42';

async function caught(p: Promise<unknown>): Promise<CameraError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CameraError) return e;
    throw e;
  }
  throw new Error('expected a rejection');
}

const isJpeg = (b: Buffer): boolean => b[0] === 0xff && b[1] === 0xd8 && b.at(-2) === 0xff && b.at(-1) === 0xd9;

describe('fetchSnapshot', () => {
  let sim: CameraSimulator;
  let basic: Server;
  let basicUrl: string;
  beforeAll(async () => {
    sim = createCameraSimulator({ id: 'cam-snap', manufacturer: 'Acme', model: 'S1', serial: 'SN1', firmware: '1.0', username: USER, password: PASS, discovery: false });
    await sim.start();
    basic = createServer((req, res) => {
      const expected = `Basic ${Buffer.from(`${USER}:${PASS}`).toString('base64')}`;
      if (req.headers.authorization !== expected) {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="cam"' }).end();
        return;
      }
      res.writeHead(200, { 'Content-Type': 'image/jpeg' }).end(Buffer.from([0xff, 0xd8, 0x00, 0xff, 0xd9]));
    });
    await new Promise<void>((resolve) => basic.listen(0, '127.0.0.1', resolve));
    basicUrl = `http://127.0.0.1:${(basic.address() as AddressInfo).port}/snap.jpg`;
  });
  afterAll(async () => {
    await sim?.stop();
    await new Promise<void>((resolve) => basic?.close(() => resolve()));
  });

  it('answers the digest challenge and returns the JPEG; the next request reuses the challenge with nc counting up', async () => {
    const challenges = new Map<string, Challenge>();
    const first = await fetchSnapshot(sim.snapshotUrl, { username: USER, password: PASS, timeoutMs: 2000, challenges });
    expect(isJpeg(first)).toBe(true);
    const second = await fetchSnapshot(sim.snapshotUrl, { username: USER, password: PASS, timeoutMs: 2000, challenges });
    expect(isJpeg(second)).toBe(true);
    expect(second.equals(first)).toBe(false); // a new frame, not a cache
    const cached = challenges.get(new URL(sim.snapshotUrl).origin);
    expect(cached).toMatchObject({ scheme: 'digest', qop: 'auth', algorithm: 'MD5', nc: 2 });
    expect(sim.stats.authFailures).toBe(0);
  });

  it('speaks Basic when the challenge says Basic', async () => {
    const jpeg = await fetchSnapshot(basicUrl, { username: USER, password: PASS, timeoutMs: 2000 });
    expect(isJpeg(jpeg)).toBe(true);
  });

  it('reports a wrong password as camera.auth, without the password in the error', async () => {
    const wrong = 'not-the-password-123';
    const e = await caught(fetchSnapshot(sim.snapshotUrl, { username: USER, password: wrong, timeoutMs: 2000 }));
    expect(e.code).toBe('camera.auth');
    expect(JSON.stringify({ m: e.message, d: e.details })).not.toContain(wrong);
    const b = await caught(fetchSnapshot(basicUrl, { username: USER, password: wrong, timeoutMs: 2000 }));
    expect(b.code).toBe('camera.auth');
  });

  it('refuses an HTML error page as camera.protocol / not-an-image', async () => {
    sim.setSnapshotFault('html-error');
    try {
      const e = await caught(fetchSnapshot(sim.snapshotUrl, { username: USER, password: PASS, timeoutMs: 2000 }));
      expect(e.code).toBe('camera.protocol');
      expect(e.details).toEqual({ reason: 'not-an-image', contentType: 'text/html; charset=utf-8' });
    } finally {
      sim.setSnapshotFault('none');
    }
  });

  it('refuses a body over the size bound', async () => {
    const e = await caught(fetchSnapshot(sim.snapshotUrl, { username: USER, password: PASS, timeoutMs: 2000, maxBytes: 1024 }));
    expect(e.code).toBe('camera.protocol');
    expect(e.details).toMatchObject({ reason: 'too-large' });
  });

  it('times out a slow camera after timeoutMs, and an abort ends the request at once', async () => {
    sim.setSlowMs(3000);
    try {
      let t0 = performance.now();
      const e = await caught(fetchSnapshot(sim.snapshotUrl, { username: USER, password: PASS, timeoutMs: 300 }));
      expect(e.code).toBe('camera.timeout');
      expect(performance.now() - t0).toBeLessThan(1500);

      const ac = new AbortController();
      t0 = performance.now();
      const p = fetchSnapshot(sim.snapshotUrl, { username: USER, password: PASS, timeoutMs: 5000, signal: ac.signal });
      setTimeout(() => ac.abort(new Error('stop')), 100);
      await expect(p).rejects.toThrow('stop');
      expect(performance.now() - t0).toBeLessThan(1000);
    } finally {
      sim.setSlowMs(0);
    }
  });

  it('reports a closed port as camera.unreachable', async () => {
    const e = await caught(fetchSnapshot('http://127.0.0.1:1/snap.jpg', { username: USER, password: PASS, timeoutMs: 1000 }));
    expect(e.code).toBe('camera.unreachable');
  });

  it('closes the connection of a snapshot that never ends, once it is over the size limit', async () => {
    // A camera that streams MJPEG endlessly at its snapshot URL, with no Content-Length.
    const endless = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'image/jpeg' });
      const chunk = Buffer.alloc(16 * 1024, 0xab);
      const timer = setInterval(() => res.write(chunk), 5);
      res.on('close', () => clearInterval(timer));
    });
    await new Promise<void>((resolve) => endless.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(endless.address() as AddressInfo).port}/snap.jpg`;
      for (let i = 0; i < 5; i++) {
        const e = await caught(fetchSnapshot(url, { timeoutMs: 5000, maxBytes: 64 * 1024 }));
        expect(e.details).toMatchObject({ reason: 'too-large' });
      }
      const open = async () => new Promise<number>((resolve, reject) => endless.getConnections((err, n) => (err ? reject(err) : resolve(n))));
      // Without the fix the sockets stay open for good; a loaded box may take a while to close them.
      const deadline = performance.now() + 10_000;
      while ((await open()) > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(await open()).toBe(0);
    } finally {
      endless.closeAllConnections();
      await new Promise<void>((resolve) => endless.close(() => resolve()));
    }
  });

  it('leaves no listener on the long-lived abort signal of the polling camera', async () => {
    const signal = new AbortController().signal;
    const challenges = new Map<string, Challenge>();
    for (let i = 0; i < 15; i++) await fetchSnapshot(sim.snapshotUrl, { username: USER, password: PASS, timeoutMs: 2000, signal, challenges });
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  });

  it('does not fall back to Basic over plain HTTP when the camera also offers a Digest it cannot answer', async () => {
    let authorizations = 0;
    const server = createServer((req, res) => {
      if (req.headers.authorization) authorizations += 1;
      res.writeHead(401, { 'WWW-Authenticate': 'Digest realm="cam", nonce="n1", algorithm=SHA-512-256, Basic realm="cam"' }).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/snap.jpg`;
      const e = await caught(fetchSnapshot(url, { username: USER, password: PASS, timeoutMs: 2000 }));
      expect(e.details).toMatchObject({ reason: 'auth-downgrade' });
      expect(authorizations).toBe(0);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('prefers Digest over Basic when a camera offers both', () => {
    expect(parseChallenge('Basic realm="a", Digest realm="b", nonce="n", qop="auth,auth-int"')).toMatchObject({ scheme: 'digest', realm: 'b', qop: 'auth' });
    expect(parseChallenge('Digest realm="b", nonce="n", algorithm=SHA-512-256')).toBeUndefined();
  });
});

describe('trustedCameraUri', () => {
  it('hands credentials only to URIs on the camera\'s ONVIF host or an address its name resolves to', async () => {
    expect(trustedCameraUri('http://10.0.0.7/snap.jpg', 'http://10.0.0.7:8080/onvif/device_service', 'source.snapshotUrl')).toBe('http://10.0.0.7/snap.jpg');
    expect(() => trustedCameraUri('http://10.0.0.8/snap.jpg', 'http://10.0.0.7/onvif/device_service', 'source.snapshotUrl')).toThrow(/not on its ONVIF host/);
    expect(trustedCameraUri('rtsp://10.0.0.7/live', 'http://cam-7.example/onvif/device_service', 'source.rtspUrl', ['10.0.0.7'])).toBe('rtsp://10.0.0.7/live');
    expect(() => trustedCameraUri('file:///etc/passwd', 'http://10.0.0.7/onvif/device_service', 'source.rtspUrl')).toThrow(/only rtsp: or rtsps:/);
    expect(() => trustedCameraUri('rtsp://10.0.0.7/live', 'http://10.0.0.7/onvif/device_service', 'source.snapshotUrl')).toThrow(/only http: or https:/);
    expect(await resolveOnvifHost('http://localhost:8080/onvif/device_service')).toContain('127.0.0.1');
    expect(await resolveOnvifHost('http://10.0.0.7/onvif/device_service')).toEqual([]);
  });
});
