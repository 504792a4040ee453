import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { BEARER, type RouteDeps } from './common.js';

/** The hash-chained audit log (Shenzhen Art. 75): checked by auditor and operator, read by the auditor. */
const TailQuery = Type.Object(
  {
    after: Type.Optional(Type.Integer({ minimum: 0, description: 'Only entries with a larger seq.' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  },
  { additionalProperties: false },
);

export const auditRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { services: s, auth }) => {
  const tags = ['audit'];

  app.get(
    '/v1/audit/verify',
    {
      onRequest: auth.requireRoles('auditor', 'operator'),
      schema: { tags, security: BEARER, summary: 'Verify the hash chain end to end; names the first broken entry (auditor, operator)' },
    },
    async () => s.audit.verify(),
  );

  app.get(
    '/v1/audit',
    {
      onRequest: auth.requireRoles('auditor'),
      schema: {
        tags,
        security: BEARER,
        summary: 'Audit entries (auditor)',
        description:
          'The oldest `limit` entries with seq > `after`: read the whole log forward by passing the last seq seen as `after`. ' +
          '`more` is true when entries after the last one returned exist.',
        querystring: TailQuery,
      },
    },
    async (req) => {
      const after = req.query.after ?? 0;
      const limit = req.query.limit ?? 100;
      // One extra row tells whether there is more without a count query.
      const rows = s.audit.page(after, limit + 1);
      return { entries: rows.slice(0, limit), more: rows.length > limit };
    },
  );
};
