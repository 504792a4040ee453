import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { agentVersion, type RouteDeps } from './common.js';

/**
 * Liveness for systemd, monitoring and the kiosk: counters and ids only, no personal data, so it
 * needs no token.
 */
export const healthRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { services: s }) => {
  const version = agentVersion();
  app.get(
    '/v1/health',
    { schema: { summary: 'Agent health (no token)', tags: ['health'] } },
    async () => ({
      status: 'ok' as const,
      agent: s.config.agent.id,
      site: s.config.site.id,
      version,
      time: s.clock.now().toISOString(),
      capture: s.capture.counters(),
      outboxPending: s.outbox.countPending(),
      notices: { current: s.notices.list({ state: 'verified' }).length },
    }),
  );
};
