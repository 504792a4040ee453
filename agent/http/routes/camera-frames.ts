import { timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { ID_PATTERN } from '../../config/schema.js';
import { CamwardenError } from '../../errors.js';
import { hashToken } from '../auth.js';
import { IMAGE_BODY_LIMIT, type RouteDeps } from './common.js';

const tags = ['cameras'];
const CameraParams = Type.Object({ id: Type.String({ pattern: ID_PATTERN }) }, { additionalProperties: false });
const BEARER_RE = /^Bearer[ \t]+([!-~]{1,512})[ \t]*$/i;

/**
 * Camera push: a camera that sends a snapshot on an event posts it here with its own token
 * (cameras[].push.tokenSha256), not a role token: a camera can push frames and nothing else.
 * The frame takes the one capture path, so no notice, no frame stored.
 */
export const cameraFrameRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { services: s }) => {
  const pushHashes = new Map(s.config.cameras.flatMap((c) => (c.push ? [[c.id, Buffer.from(c.push.tokenSha256, 'hex')] as const] : [])));

  app.addContentTypeParser('image/jpeg', { parseAs: 'buffer', bodyLimit: IMAGE_BODY_LIMIT }, (_req, body, done) => done(null, body));

  app.post(
    '/v1/cameras/:id/frames',
    {
      onRequest: async (req) => {
        const id = (req.params as { id?: string }).id ?? '';
        const expected = pushHashes.get(id);
        const token = BEARER_RE.exec(req.headers.authorization ?? '')?.[1];
        const given = token === undefined ? undefined : Buffer.from(hashToken(token), 'hex');
        if (!expected || !given || !timingSafeEqual(expected, given)) {
          throw new CamwardenError('auth.missing', 'this camera has no push token, or the token is wrong');
        }
      },
      schema: {
        tags,
        summary: 'A camera pushes one JPEG frame (camera push token); stored only under a current notice',
        params: CameraParams,
        body: { content: { 'image/jpeg': { schema: Type.String({ format: 'binary' }) } } },
      },
      validatorCompiler: (req) => (req.httpPart === 'body' ? () => true : TypeBoxValidatorCompiler(req)),
    },
    async (req, reply) => {
      if (!Buffer.isBuffer(req.body)) throw new CamwardenError('input.invalid', 'send the frame as the raw body with Content-Type image/jpeg', { field: 'body' });
      const r = await s.capture.ingest(req.params.id, req.body, { source: 'push' });
      if (r.status === 'stored') return reply.code(201).send({ image: r.imageId, notice: r.noticeId, width: r.width, height: r.height });
      if (r.status === 'blocked') {
        throw new CamwardenError('capture.blocked', `${r.message} (${r.rule}, ${r.citation})`, { details: { reason: r.reason, rule: r.rule, citation: r.citation } });
      }
      throw new CamwardenError(r.code === 'jpeg.too-large' ? 'jpeg.too-large' : 'jpeg.invalid', `frame rejected: ${r.reason}: ${r.message}`, { field: 'body', details: { reason: r.reason } });
    },
  );
};
