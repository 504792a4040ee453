import type { IncomingMessage } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import Type from 'typebox';
import { ID_PATTERN } from '../../config/schema.js';
import { isCamwardenError } from '../../errors.js';
import { jsmpegScript, LIVE_CSP, LIVE_CSS, LIVE_HTML, LIVE_ICON, LIVE_JS } from '../../live/live-page.js';
import { TICKET_PATTERN, type LiveView } from '../../live/live-view.js';
import { principal } from '../auth.js';
import { BEARER, type RouteDeps } from './common.js';

/**
 * Live view (security only): a ticket for a camera, the WebSocket that takes it, and the operator
 * page at /live. The WebSocket is served on the agent's own server through its 'upgrade' event;
 * node-rtsp-stream's own server (every interface, no authentication) never runs.
 */
const tags = ['live'];
const CameraParams = Type.Object({ id: Type.String({ pattern: ID_PATTERN }) }, { additionalProperties: false });
const TicketParams = Type.Object({ ticket: Type.String({ pattern: TICKET_PATTERN, description: 'From POST /v1/cameras/{id}/live.' }) }, { additionalProperties: false });
const LIVE_PATH = /^\/v1\/live\/([^/?#]*)$/;

/** An upgrade never reaches Fastify's reply: the refusal is written on the socket itself. */
function refuse(socket: Duplex, status: number, body: { code: string; message: string }): void {
  const json = JSON.stringify(body);
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
    'Connection: close',
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(json)}`,
    'Cache-Control: no-store',
    ...(status === 401 ? ['WWW-Authenticate: Bearer realm="camwarden"'] : []),
  ];
  socket.end(`${head.join('\r\n')}\r\n\r\n${json}`);
  socket.once('finish', () => socket.destroy());
}

function page(reply: FastifyReply, type: string, body: string | Buffer): FastifyReply {
  return reply
    .type(type)
    .header('content-security-policy', LIVE_CSP)
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer')
    .header('cross-origin-opener-policy', 'same-origin')
    .send(body);
}

export const liveRoutes: FastifyPluginAsyncTypebox<RouteDeps & { live: LiveView }> = async (app, { auth, live }) => {
  const security = auth.requireRoles('security');
  const log = app.log.child({ component: 'live-http' });
  let jsmpeg: Buffer | undefined;

  function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const path = (req.url ?? '').split('?')[0] ?? '';
    const ticket = LIVE_PATH.exec(path)?.[1];
    if (ticket === undefined) return refuse(socket, 404, { code: 'not-found', message: 'no WebSocket at this path' });
    if (req.method !== 'GET' || (req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
      return refuse(socket, 400, { code: 'input.invalid', message: 'a live stream is a WebSocket: GET with Upgrade: websocket' });
    }
    try {
      live.upgrade(ticket, req, socket, head);
    } catch (error) {
      if (isCamwardenError(error)) return refuse(socket, error.httpStatus, error.toJSON());
      log.error({ err: error }, 'live upgrade failed');
      return refuse(socket, 500, { code: 'internal', message: 'internal error; the agent log has the details' });
    }
  }
  app.server.on('upgrade', onUpgrade);
  // Open sessions hold server sockets: cut them (agent-stopping, audited) before the server waits on them.
  app.addHook('preClose', async () => {
    await live.stop();
  });
  app.addHook('onClose', async () => {
    app.server.off('upgrade', onUpgrade);
  });

  app.get('/v1/live', { onRequest: security, schema: { tags, security: BEARER, summary: 'Cameras and whether each may be watched live now (security)' } }, async () =>
    live.cameras(),
  );

  app.post(
    '/v1/cameras/:id/live',
    {
      onRequest: security,
      schema: {
        tags,
        security: BEARER,
        summary: 'A single-use ticket (30 s) to watch a camera live (security)',
        description:
          'Refused with 403 notice.missing while no current notice covers the camera (PIPL Art. 26), 403 capture.blocked for any other gate refusal; '
          + 'refusals are audited. Open the WebSocket at `url` with the ticket to watch.',
        params: CameraParams,
      },
    },
    async (req, reply) => reply.code(201).send(live.issueTicket(req.params.id, principal(req).actor)),
  );

  app.get(
    '/v1/live/:ticket',
    {
      schema: {
        tags,
        summary: 'WebSocket: the live stream for a ticket',
        description:
          'Upgrade to a WebSocket (no bearer token: the ticket is the credential, single use). The first binary message is node-rtsp-stream\'s '
          + 'header ("jsmp", width and height as UInt16BE), then MPEG-TS with MPEG-1 video for JSMpeg. The agent closes the socket with 4403 and '
          + 'reason notice-expired, notice-withdrawn or gate-closed when the camera may no longer capture, 4502 stream-failed, 1001 agent-stopping. '
          + 'An unknown, used or expired ticket is refused with 401 before the upgrade.',
        params: TicketParams,
      },
    },
    async (_req, reply) => reply.code(426).header('upgrade', 'websocket').send({ code: 'input.invalid', message: 'a live stream is a WebSocket: GET with Upgrade: websocket' }),
  );

  app.get('/live', { schema: { hide: true } }, async (_req, reply) => page(reply, 'text/html; charset=utf-8', LIVE_HTML));
  app.get('/live/live.js', { schema: { hide: true } }, async (_req, reply) => page(reply, 'text/javascript; charset=utf-8', LIVE_JS));
  app.get('/live/live.css', { schema: { hide: true } }, async (_req, reply) => page(reply, 'text/css; charset=utf-8', LIVE_CSS));
  app.get('/live/icon.svg', { schema: { hide: true } }, async (_req, reply) => page(reply, 'image/svg+xml', LIVE_ICON));
  app.get('/live/jsmpeg.min.js', { schema: { hide: true } }, async (_req, reply) => {
    jsmpeg ??= jsmpegScript();
    return page(reply, 'text/javascript; charset=utf-8', jsmpeg);
  });
};
