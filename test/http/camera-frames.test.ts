import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildServer } from '../../agent/http/build-server.js';
import { hashToken, newToken } from '../../agent/http/auth.js';
import { silentLogger } from '../../agent/log.js';
import { makeAgentEnv, sampleJpeg, verifiedNotice, type AgentEnv } from '../helpers/agent-env.js';

let env: AgentEnv;
let app: FastifyInstance;
const pushToken = newToken();
const otherToken = newToken();

beforeEach(async () => {
  env = makeAgentEnv({
    cameras: [
      { id: 'cam-door', location: 'Door', locationClass: 'entrance', push: { tokenSha256: hashToken(pushToken) } },
      { id: 'cam-yard', location: 'Yard', locationClass: 'square', push: { tokenSha256: hashToken(otherToken) } },
      { id: 'cam-hall', location: 'Hall', locationClass: 'lobby' },
    ],
  });
  app = buildServer({ services: env.services, log: silentLogger });
  await app.ready();
});
afterEach(async () => {
  await app.close();
  env.cleanup();
});

const push = (camera: string, body: Buffer, token: string | null = pushToken, type = 'image/jpeg') =>
  app.inject({
    method: 'POST',
    url: `/v1/cameras/${camera}/frames`,
    headers: { 'content-type': type, ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
    payload: body,
  });

describe('POST /v1/cameras/:id/frames (camera push)', () => {
  it('stores a pushed frame under a current notice, through the capture path', async () => {
    await verifiedNotice(env.services, ['cam-door']);
    const r = await push('cam-door', await sampleJpeg(320, 240));
    expect(r.statusCode).toBe(201);
    const id = r.json().image as string;
    expect(env.services.images.get(id)).toMatchObject({ cameraId: 'cam-door', width: 320, height: 240 });
    expect(env.services.capture.counters().stored).toBe(1);
  });

  it('refuses the frame with 403 and the article when no notice covers the camera', async () => {
    const r = await push('cam-door', await sampleJpeg());
    expect(r.statusCode).toBe(403);
    expect(r.json()).toMatchObject({ code: 'capture.blocked', message: expect.stringContaining('PIPL Art. 26') });
    expect(env.services.images.count()).toBe(0);
  });

  it("accepts only the camera's own token: not another camera's, not a role token, not none", async () => {
    await verifiedNotice(env.services, ['cam-door', 'cam-yard', 'cam-hall']);
    const jpeg = await sampleJpeg();
    expect((await push('cam-door', jpeg, null)).statusCode).toBe(401);
    expect((await push('cam-door', jpeg, otherToken)).statusCode).toBe(401);
    expect((await push('cam-door', jpeg, env.tokens.operator)).statusCode).toBe(401);
    expect((await push('cam-hall', jpeg, pushToken)).statusCode).toBe(401);
    expect((await push('cam-yard', jpeg, otherToken)).statusCode).toBe(201);
    expect(env.services.images.count()).toBe(1);
  });

  it('rejects what is not a JPEG, naming the reason, and keeps serving', async () => {
    await verifiedNotice(env.services, ['cam-door']);
    const truncated = (await sampleJpeg(320, 240)).subarray(0, 300);
    const r = await push('cam-door', truncated);
    expect(r.statusCode).toBe(422);
    expect(r.json()).toMatchObject({ code: 'jpeg.invalid', field: 'body' });
    expect((await push('cam-door', Buffer.from('<html>error</html>'), pushToken, 'text/html')).statusCode).toBe(415);
    expect((await push('cam-door', await sampleJpeg())).statusCode).toBe(201);
  });
});
