import { getEventListeners } from 'node:events';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeCamera } from '../../agent/cameras/camera-inventory.js';
import { CameraError, connectCamera, fromOnvif, toOnvif, type OnvifCamera } from '../../agent/cameras/onvif-camera.js';
import type { MaskPolygon } from '../../agent/cameras/privacy-mask.js';
import { isCamwardenError } from '../../agent/errors.js';
import { createCameraSimulator, type CameraSimulator } from '../fixtures/camera-simulator/index.js';

const USER = 'operator';
const PASS = 'correct horse';
const TIMEOUT_MS = 1000;

const common = { manufacturer: 'Acme Optics', model: 'AO-200', username: USER, password: PASS, discovery: false };

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('onvif camera', () => {
  let masked: CameraSimulator;
  let plain: CameraSimulator;
  const open: OnvifCamera[] = [];
  const connect = async (sim: CameraSimulator, password = PASS): Promise<OnvifCamera> => {
    const cam = await connectCamera({ url: sim.deviceUrl, username: USER, password, timeoutMs: TIMEOUT_MS });
    open.push(cam);
    return cam;
  };

  beforeAll(async () => {
    // Numeric-looking serial and firmware: the onvif package alone would turn them into floats.
    masked = createCameraSimulator({ ...common, id: 'cam-lobby', serial: '12345678901234567890', firmware: '5.50', supportsMasks: true, clockSkewSeconds: 90 });
    plain = createCameraSimulator({ ...common, id: 'cam-gate', serial: 'SN-0002', firmware: '4.2.1', clockSkewSeconds: -45 });
    await Promise.all([masked.start(), plain.start()]);
  });
  afterAll(async () => {
    for (const cam of open) cam.close();
    await Promise.all([masked?.stop(), plain?.stop()]);
  });

  it('reads device information exactly as the camera wrote it', async () => {
    const cam = await connect(masked);
    expect(await cam.deviceInformation()).toEqual({
      manufacturer: 'Acme Optics', model: 'AO-200', serial: '12345678901234567890', firmware: '5.50', hardwareId: 'AO-200-HW1',
    });
    expect(cam.address).toBe(masked.deviceUrl);
  });

  it('lists media profiles with numbers as numbers, through Media2 and Media1 alike', async () => {
    const expected = [
      { token: 'Profile_1', name: 'MainStream', encoding: 'H264', width: 640, height: 360, fps: 5 },
      { token: 'Profile_2', name: 'SubStream', encoding: 'H264', width: 320, height: 180, fps: 5 },
    ];
    expect(await (await connect(masked)).profiles()).toEqual(expected);
    expect(await (await connect(plain)).profiles()).toEqual(expected);
  });

  it('returns stream and snapshot URIs without credentials', async () => {
    const cam = await connect(plain);
    const port = new URL(plain.deviceUrl).port;
    const stream = await cam.streamUri('Profile_1');
    expect(stream).toMatch(/^rtsp:\/\/127\.0\.0\.1:\d+\/onvif\/Profile_1\/media\.smp$/);
    expect(await cam.snapshotUri('Profile_2')).toBe(`http://127.0.0.1:${port}/onvif/snapshot.jpg?profile=Profile_2`);
    expect(stream).not.toContain('@');
  });

  it('measures clock drift within a second of the camera skew', async () => {
    const ahead = await connect(masked);
    const behind = await connect(plain);
    expect(Math.abs((await ahead.clockDriftMs()) - 90_000)).toBeLessThanOrEqual(1000);
    expect(Math.abs((await behind.clockDriftMs()) + 45_000)).toBeLessThanOrEqual(1000);
  });

  it('fails a wrong password with kind auth, the password in no message', async () => {
    const e = await caught(connect(masked, 'battery staple'));
    expect(e).toBeInstanceOf(CameraError);
    expect((e as CameraError).kind).toBe('auth');
    expect((e as CameraError).code).toBe('camera.auth');
    expect(String((e as Error).message)).not.toMatch(/battery|horse|operator/);
  });

  it('leaves no listener on a long-lived abort signal, however many connections and calls it bounds', async () => {
    // A supervisor keeps one signal for the camera's life and reconnects a dead camera every minute.
    const signal = new AbortController().signal;
    const port = await closedPort();
    for (let i = 0; i < 15; i++) {
      await caught(connectCamera({ url: `http://127.0.0.1:${port}/onvif/device_service`, username: USER, password: PASS, timeoutMs: TIMEOUT_MS, signal }));
    }
    const cam = await connectCamera({ url: masked.deviceUrl, username: USER, password: PASS, timeoutMs: TIMEOUT_MS, signal });
    for (let i = 0; i < 15; i++) await cam.clockDriftMs();
    expect(getEventListeners(signal, 'abort').length).toBeLessThanOrEqual(1);
    cam.close();
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  });

  it('fails an unreachable port with kind unreachable', async () => {
    const port = await closedPort();
    const e = await caught(connectCamera({ url: `http://${USER}:x@127.0.0.1:${port}/onvif/device_service`, username: USER, password: PASS, timeoutMs: TIMEOUT_MS }));
    expect((e as CameraError).kind).toBe('unreachable');
    expect((e as Error).message).not.toContain(`${USER}:`);
  });

  it('times out a slow camera within timeout + 500 ms while another camera still answers', async () => {
    const slow = await connect(plain);
    const fast = await connect(masked);
    plain.setSlowMs(5000);
    try {
      const t0 = performance.now();
      const slowCall = caught(slow.deviceInformation()).then((e) => ({ e, ms: performance.now() - t0 }));
      const fastInfo = await fast.deviceInformation();
      const fastMs = performance.now() - t0;
      const { e, ms } = await slowCall;
      expect(fastInfo.serial).toBe('12345678901234567890');
      expect(fastMs).toBeLessThan(TIMEOUT_MS);
      expect((e as CameraError).kind).toBe('timeout');
      expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
      expect(ms).toBeLessThan(TIMEOUT_MS + 2000); // far below the 5 s the camera would take
    } finally {
      plain.setSlowMs(0);
    }
  });

  it('honours an abort signal at once', async () => {
    const controller = new AbortController();
    const cam = await connectCamera({ url: plain.deviceUrl, username: USER, password: PASS, timeoutMs: 10_000, signal: controller.signal });
    plain.setSlowMs(5000);
    try {
      const t0 = performance.now();
      const pending = caught(cam.profiles());
      setTimeout(() => controller.abort(), 50);
      const e = await pending;
      expect((e as Error).name).toBe('AbortError');
      expect(performance.now() - t0).toBeLessThan(2000); // the camera would take 5 s
    } finally {
      plain.setSlowMs(0);
    }
  });

  it('fails a camera answering an HTML page or an unexpected SOAP body with kind protocol', async () => {
    const replies = [
      '<!DOCTYPE html><html><body><h1>Welcome</h1></body></html>',
      '<?xml version="1.0"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><Nothing/></s:Body></s:Envelope>',
      '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><GetSystemDate',
    ];
    for (const reply of replies) {
      const server: Server = createHttpServer((_req, res) => res.writeHead(200, { 'Content-Type': 'application/soap+xml' }).end(reply));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const { port } = server.address() as { port: number };
        const e = await caught(connectCamera({ url: `http://127.0.0.1:${port}/onvif/device_service`, username: USER, password: PASS, timeoutMs: TIMEOUT_MS }));
        expect((e as CameraError).kind).toBe('protocol');
        expect((e as CameraError).details).toMatchObject({ reason: 'soap' });
      } finally {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    }
  });

  it('rejects calls after close', async () => {
    const cam = await connect(plain);
    cam.close();
    expect((await caught(cam.profiles()) as CameraError).kind).toBe('unreachable');
  });

  describe('privacy masks', () => {
    const masks: MaskPolygon[] = [
      { name: 'neighbour window', points: [[0.1, 0.1], [0.3, 0.1], [0.3, 0.25], [0.1, 0.25]] },
      { name: 'private door', points: [[0.6, 0.5], [0.95, 0.55], [0.8, 0.9]] },
    ];

    it('converts 0..1 y-down to ONVIF -1..1 y-up and back', () => {
      expect(toOnvif(0, 0)).toEqual([-1, 1]);
      expect(toOnvif(1, 1)).toEqual([1, -1]);
      expect(toOnvif(0.5, 0.25)).toEqual([0, 0.5]);
      expect(fromOnvif(-1, 1)).toEqual([0, 0]);
      for (const [x, y] of [[0.1, 0.9], [0.333333, 0.777777], [0.95, 0.55]] as const) {
        const [bx, by] = fromOnvif(...toOnvif(x, y));
        expect(Math.abs(bx - x)).toBeLessThan(1e-12);
        expect(Math.abs(by - y)).toBeLessThan(1e-12);
      }
    });

    it('sets two polygons on a Media2 camera and reads them back from the camera and the client', async () => {
      const cam = await connect(masked);
      expect(cam.supportsMasks()).toBe(true);
      await cam.setMasks(masks);
      const stored = masked.masks();
      expect(stored).toHaveLength(2);
      expect(stored.every((m) => m.configurationToken === 'VideoSourceConfig_1' && m.enabled && m.type === 'Color')).toBe(true);
      masks.forEach((m, i) => {
        const onCamera = stored[i]!.polygon;
        expect(onCamera).toHaveLength(m.points.length);
        m.points.forEach(([x, y], j) => {
          const [ox, oy] = toOnvif(x, y);
          expect(Math.abs(onCamera[j]!.x - ox)).toBeLessThan(1e-6);
          expect(Math.abs(onCamera[j]!.y - oy)).toBeLessThan(1e-6);
          expect(onCamera[j]!.y).toBeCloseTo(1 - 2 * y, 9); // y up on the camera
        });
      });
      const read = await cam.getMasks();
      expect(read).toHaveLength(2);
      read.forEach((m, i) => {
        expect(m.token).toBe(stored[i]!.token);
        m.points.forEach(([x, y], j) => {
          expect(Math.abs(x - masks[i]!.points[j]![0])).toBeLessThan(1e-6);
          expect(Math.abs(y - masks[i]!.points[j]![1])).toBeLessThan(1e-6);
        });
      });
    });

    it('leaves masks already in place untouched and replaces changed ones', async () => {
      const cam = await connect(masked);
      await cam.setMasks(masks);
      const before = masked.masks().map((m) => m.token);
      await cam.setMasks(masks);
      expect(masked.masks().map((m) => m.token)).toEqual(before);
      await cam.setMasks(masks.slice(1));
      expect(masked.masks()).toHaveLength(1);
      expect(masked.masks()[0]!.token).not.toBe(before[1]);
      await cam.setMasks([]);
      expect(masked.masks()).toEqual([]);
    });

    it('refuses invalid polygons before talking to the camera', async () => {
      const cam = await connect(masked);
      const e = await caught(cam.setMasks([{ name: 'x', points: [[0, 0], [2, 0], [0, 1]] }]));
      expect(isCamwardenError(e, 'input.invalid')).toBe(true);
    });

    it('says a Media1-only camera cannot mask', async () => {
      const cam = await connect(plain);
      expect(cam.supportsMasks()).toBe(false);
      expect((await caught(cam.getMasks()) as CameraError).kind).toBe('protocol');
    });
  });

  describe('inventory', () => {
    it('describes each camera as plain JSON, masking by the camera only where its Media2 masks are the wanted ones', async () => {
      const now = new Date('2025-06-01T10:00:00.000Z');
      const t0 = performance.now();
      const camA = await connect(masked);
      const t1 = performance.now();
      const a = await describeCamera(camA, now);
      const t2 = performance.now();
      const b = await describeCamera(await connect(plain), now);
      expect(a).toMatchObject({ masksSupported: true, masking: 'none' });
      expect(b).toMatchObject({ masksSupported: false, masking: 'none' });
      // With masks wanted: the camera masks only once its masks read back equal to them.
      const wanted = [{ name: 'window', points: [[0.1, 0.1], [0.4, 0.1], [0.4, 0.4]] as [number, number][] }];
      expect((await describeCamera(camA, now, wanted)).masking).toBe('agent');
      await camA.setMasks(wanted);
      expect((await describeCamera(camA, now, wanted)).masking).toBe('camera');
      expect((await describeCamera(camA, now, [{ ...wanted[0]!, points: [[0.1, 0.1], [0.5, 0.1], [0.4, 0.4]] }])).masking).toBe('agent');
      await camA.setMasks([]);
      expect((await describeCamera(await connect(plain), now, wanted)).masking).toBe('agent');
      expect(a).toMatchObject({
        deviceInformation: { serial: '12345678901234567890', firmware: '5.50' },
        profileToken: 'Profile_1',
        refreshedAt: '2025-06-01T10:00:00.000Z',
      });
      expect(a.streamUri).toMatch(/^rtsp:\/\/127\.0\.0\.1:\d+\/onvif\/Profile_1\/media\.smp$/);
      expect(a.snapshotUri).toMatch(/snapshot\.jpg\?profile=Profile_1$/);
      expect(Math.abs(a.clockDriftMs - 90_000)).toBeLessThanOrEqual(1000);
      expect(JSON.parse(JSON.stringify(b))).toEqual(b);
      expect(JSON.stringify([a, b])).not.toContain(PASS);
      const again = performance.now();
      await describeCamera(camA, now);
      console.info(`inventory, one camera: connect ${(t1 - t0).toFixed(1)} ms, first describe ${(t2 - t1).toFixed(1)} ms, ` +
        `second describe ${(performance.now() - again).toFixed(1)} ms`);
    });
  });
});
