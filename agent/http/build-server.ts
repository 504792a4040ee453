import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import swagger from '@fastify/swagger';
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController, type FastifyError, type FastifyHttpOptions, type FastifyInstance, type FastifySchemaValidationError } from 'fastify';
import type { AgentServices } from '../agent.js';
import type { CameraStatus } from '../cameras/camera-supervisor.js';
import { CamwardenError, isCamwardenError } from '../errors.js';
import type { LiveView } from '../live/live-view.js';
import type { Logger } from '../log.js';
import { createAuth } from './auth.js';
import { cameraFrameRoutes } from './routes/camera-frames.js';
import { cameraRoutes } from './routes/cameras.js';
import { assessmentRoutes } from './routes/assessments.js';
import { auditRoutes } from './routes/audit.js';
import { agentVersion, JSON_BODY_LIMIT, type RouteDeps } from './routes/common.js';
import { healthRoutes } from './routes/health.js';
import { imageRoutes } from './routes/images.js';
import { liveRoutes } from './routes/live.js';
import { noticeRoutes } from './routes/notices.js';

/** `/content/text/zh/title` -> `content.text.zh.title`; `/cameras/0` -> `cameras[0]`. */
function pointerToPath(pointer: string): string {
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(seg) ? `[${seg}]` : out === '' ? seg : `.${seg}`;
  }
  return out;
}

/** The property at fault: a missing or unexpected key is named itself, not its parent object. */
function fieldOf(e: FastifySchemaValidationError): string {
  const p = e.params as Record<string, unknown>;
  const key = [p['requiredProperties'], p['missingProperty'], p['additionalProperties'], p['additionalProperty']]
    .map((v) => (Array.isArray(v) ? v[0] : v))
    .find((v): v is string => typeof v === 'string');
  const base = pointerToPath(e.instancePath);
  if (key === undefined) return base;
  return base === '' ? key : `${base}.${key}`;
}

function validationError(errors: FastifySchemaValidationError[], context: string): { code: 'input.invalid'; message: string; field: string } {
  const first =
    errors.find((e) => e.keyword === 'required' || e.keyword === 'additionalProperties') ??
    // TypeBox reports an unexpected key twice; the "schema is false" form says less.
    errors.find((e) => e.keyword !== 'boolean') ??
    errors[0];
  const field = first === undefined ? '' : fieldOf(first);
  const params = (first?.params ?? {}) as Record<string, unknown>;
  const what =
    first?.keyword === 'additionalProperties'
      ? 'is not allowed'
      : Array.isArray(params['allowedValues'])
        ? `must be one of ${params['allowedValues'].map((v) => JSON.stringify(v)).join(', ')}`
        : 'allowedValue' in params
          ? `must be ${JSON.stringify(params['allowedValue'])}`
          : (first?.message ?? 'is invalid');
  return { code: 'input.invalid', message: `${context}${field === '' ? '' : ` ${field}`}: ${what}`, field: field === '' ? context : field };
}

/** A missing certificate is a config problem (exit 78), not a crash. */
function readPem(file: string, field: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new CamwardenError('config.invalid', `cannot read ${field} ${file}: ${why}`, { field, cause: error });
  }
}

/**
 * The local HTTP API (DESIGN: Local HTTP API). Built, not started: `createAgent` listens and
 * closes it, tests call `inject()`. Every input is checked by its TypeBox schema and every
 * error leaves as `{code, message, field?}` through the one handler below. Live view (the
 * operator page at /live and its WebSocket) is served only when `live` is given.
 */
export function buildServer(deps: { services: AgentServices; log: Logger; live?: LiveView; cameraStatus?: (cameraId: string) => CameraStatus | undefined }): FastifyInstance {
  const { services, log } = deps;
  const tls = services.config.http.tls;
  const options: FastifyHttpOptions<Server> & { https?: { cert: Buffer; key: Buffer } } = {
    loggerInstance: log,
    // Fastify's request log lines carry URLs and headers; ours below carries the route pattern only.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: JSON_BODY_LIMIT,
    forceCloseConnections: true,
  };
  if (tls) options.https = { cert: readPem(tls.certFile, 'http.tls.certFile'), key: readPem(tls.keyFile, 'http.tls.keyFile') };
  const app = Fastify(options).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(TypeBoxValidatorCompiler);

  app.addHook('onSend', async (_request, reply) => {
    // Answers hold images and audit data: never cached, never sniffed into another type.
    reply.header('cache-control', 'no-store');
    reply.header('x-content-type-options', 'nosniff');
  });
  app.addHook('onResponse', async (request, reply) => {
    request.log.debug(
      { method: request.method, route: request.routeOptions.url ?? null, status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      'http request',
    );
  });

  app.setErrorHandler((error: FastifyError | CamwardenError, request, reply) => {
    if (isCamwardenError(error)) {
      if (error.httpStatus >= 500) request.log.error({ code: error.code, err: error }, 'request failed');
      if (error.code === 'auth.missing') reply.header('www-authenticate', 'Bearer realm="camwarden"');
      return reply.code(error.httpStatus).send(error.toJSON());
    }
    if (error.validation) return reply.code(400).send(validationError(error.validation, error.validationContext ?? 'request'));
    // Fastify's own client errors (malformed JSON, body too large, unsupported media type) keep their status.
    if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      return reply.code(error.statusCode).send({ code: 'input.invalid', message: error.message });
    }
    request.log.error({ err: error, route: request.routeOptions.url ?? null }, 'request failed');
    return reply.code(500).send({ code: 'internal', message: 'internal error; the agent log has the details' });
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    return reply.code(404).send({ code: 'not-found', message: `no route ${request.method} ${path}` });
  });

  void app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'camwarden agent',
        version: agentVersion(),
        description: 'Local API of the camwarden edge agent. Errors are {code, message, field?}; each route lists the roles it admits.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const routeDeps: RouteDeps = { services, auth: createAuth(services.config.http.tokens) };
  void app.register(healthRoutes, routeDeps);
  void app.register(noticeRoutes, routeDeps);
  void app.register(imageRoutes, routeDeps);
  void app.register(auditRoutes, routeDeps);
  void app.register(assessmentRoutes, routeDeps);
  void app.register(cameraFrameRoutes, routeDeps);
  void app.register(cameraRoutes, { ...routeDeps, status: deps.cameraStatus ?? (() => undefined) });
  if (deps.live) void app.register(liveRoutes, { ...routeDeps, live: deps.live });
  return app as unknown as FastifyInstance;
}
