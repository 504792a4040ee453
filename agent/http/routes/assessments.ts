import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { PiaInputSchema } from '../../notices/notice-schema.js';
import { principal } from '../auth.js';
import { BEARER, type RouteDeps } from './common.js';

/**
 * Impact assessments for face processing (Measures Art. 9; PIPL Art. 55-56): no current
 * assessment, no face processing. Never edited over HTTP: a change is a new version.
 */
export const assessmentRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { services: s, auth }) => {
  const tags = ['assessments'];

  app.get(
    '/v1/assessments',
    { onRequest: auth.requireRoles('operator', 'auditor'), schema: { tags, security: BEARER, summary: 'Impact assessments, every version (operator, auditor)' } },
    async () => s.pias.list(),
  );

  app.post(
    '/v1/assessments',
    {
      onRequest: auth.requireRoles('operator'),
      schema: {
        tags,
        security: BEARER,
        summary: 'Record an impact assessment, or a new version of one (operator)',
        description: 'All four elements of Measures Art. 9 are required; a blank one is refused with 422 pia.incomplete.',
        body: PiaInputSchema,
      },
    },
    async (req, reply) => {
      return reply.code(201).send(s.pias.add(req.body, principal(req).actor));
    },
  );
};
