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
          'The newest `limit` entries with seq > `after`, oldest first, like `tail`: poll with `after` = the last seq seen. ' +
          '`more` is true when entries between `after` and the first one returned were left out.',
        querystring: TailQuery,
      },
    },
    async (req) => {
      const after = req.query.after ?? 0;
      const limit = req.query.limit ?? 100;
      const entries = s.audit.tail(limit, after);
      const first = entries[0];
      return { entries, more: first !== undefined && first.seq > after + 1 };
    },
  );
};
