import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../agent/http/build-server.js';
import { silentLogger } from '../../agent/log.js';
import { makeAgentEnv, type AgentEnv } from './agent-env.js';

/** A real agent env and its HTTP server, ready for `inject()`; `close()` undoes both. */
export interface TestServer {
  env: AgentEnv;
  app: FastifyInstance;
  /** The Authorization header of the role's token. */
  as(role: keyof AgentEnv['tokens']): { authorization: string };
  close(): Promise<void>;
}

export async function makeTestServer(): Promise<TestServer> {
  const env = makeAgentEnv();
  const app = buildServer({ services: env.services, log: silentLogger });
  await app.ready();
  return {
    env,
    app,
    as: (role) => ({ authorization: `Bearer ${env.tokens[role]}` }),
    close: async () => {
      await app.close();
      env.cleanup();
    },
  };
}
