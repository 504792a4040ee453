import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { ImageRecord } from '../../capture/image-records.js';
import { ID_PATTERN } from '../../config/schema.js';
import { exportImage } from '../../purpose/export-image.js';
import { setLegalHold } from '../../retention/legal-hold.js';
import { principal } from '../auth.js';
import { BEARER, IdParams, RecordId, type RouteDeps } from './common.js';

/**
 * Stored images: metadata to those who look after them, bytes only through the use decision
 * (PIPL Art. 26: public safety, anything else needs separate consent), every use audited.
 */
const ListQuery = Type.Object(
  {
    camera: Type.Optional(Type.String({ pattern: ID_PATTERN })),
    from: Type.Optional(Type.String({ format: 'date-time', description: 'Captured at or after.' })),
    to: Type.Optional(Type.String({ format: 'date-time', description: 'Captured before.' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    after: Type.Optional(RecordId),
  },
  { additionalProperties: false },
);

const ExportBody = Type.Object(
  {
    // Not an enum: an unknown purpose is a decision too, denied and audited, not a schema error.
    purpose: Type.String({ pattern: '^[a-z][a-z0-9-]{0,63}$', description: 'e.g. public-safety, marketing' }),
    legalBasisRef: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'e.g. a police case number' })),
  },
  { additionalProperties: false },
);

const HoldBody = Type.Object(
  {
    hold: Type.Boolean(),
    reason: Type.Optional(Type.String({ minLength: 1, maxLength: 2000, description: 'Required when hold is true.' })),
  },
  { additionalProperties: false },
);

/** Metadata without where the encrypted blob lives: nobody needs the file name over HTTP. */
function view(r: ImageRecord): Omit<ImageRecord, 'blobFile'> {
  const { blobFile: _blobFile, ...rest } = r;
  return rest;
}

const iso = (v: string | undefined): string | undefined => (v === undefined ? undefined : new Date(v).toISOString());

export const imageRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { services: s, auth }) => {
  const readers = auth.requireRoles('security', 'auditor', 'operator');
  const tags = ['images'];

  app.get(
    '/v1/images',
    { onRequest: readers, schema: { tags, security: BEARER, summary: 'Image metadata, oldest first (security, auditor, operator)', querystring: ListQuery } },
    async (req) => {
      const q = req.query;
      // Stored times are UTC ISO strings compared as text, so the query's must be too.
      return s.images.list({ camera: q.camera, from: iso(q.from), to: iso(q.to), limit: q.limit ?? 100, afterId: q.after }).map(view);
    },
  );

  app.get(
    '/v1/images/:id',
    { onRequest: readers, schema: { tags, security: BEARER, summary: 'One image’s metadata (security, auditor, operator)', params: IdParams } },
    async (req) => view(s.images.get(req.params.id)),
  );

  app.post(
    '/v1/images/:id/export',
    {
      onRequest: auth.requireRoles('security'),
      schema: {
        tags,
        security: BEARER,
        summary: 'Export the tagged JPEG for a purpose (security)',
        description: 'Public safety with a legal basis reference returns the stored tagged JPEG; any other purpose is denied with 403 purpose.denied naming the rule and article. Audited either way.',
        params: IdParams,
        body: ExportBody,
      },
    },
    async (req, reply) => {
      const p = principal(req);
      const { bytes, record } = exportImage(
        { images: s.images, blobs: s.blobs, audit: s.audit, citations: s.profile.citations },
        { imageId: req.params.id, purpose: req.body.purpose, legalBasisRef: req.body.legalBasisRef, actor: p.actor, role: p.role },
      );
      return reply
        .type('image/jpeg')
        .header('content-disposition', `attachment; filename="${record.id}.jpg"`)
        .header('x-camwarden-purpose', 'public-safety')
        .send(bytes);
    },
  );

  app.post(
    '/v1/images/:id/hold',
    {
      onRequest: auth.requireRoles('security', 'operator'),
      schema: { tags, security: BEARER, summary: 'Put an image on legal hold or release it (security, operator)', params: IdParams, body: HoldBody },
    },
    async (req) => {
      const id = req.params.id;
      setLegalHold(s, { imageId: id, hold: req.body.hold, reason: req.body.reason, actor: principal(req).actor });
      return view(s.images.get(id));
    },
  );
};
