import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { AuditLog } from '../audit/audit-log.js';
import type { CaptureDecision } from '../capture/capture-gate.js';
import type { Clock, Ids } from '../clock.js';
import { CamwardenError } from '../errors.js';
import type { Logger } from '../log.js';
import type { NoticeRegister } from '../notices/notice-register.js';
import { createMpeg1Relay, type Mpeg1Relay, type Mpeg1RelayOptions, type RelayFailure, type RelayViewer } from './mpeg1-relay.js';

/**
 * Live view: the security role watches a camera in the browser, and only while the capture gate
 * lets the camera capture, above all while a current notice covers it (PIPL Art. 26: no prominent
 * notice, no image processing; Shenzhen Art. 11(5): only the role whose duties need it).
 *
 * A browser cannot put a bearer token on a WebSocket, so the token buys a ticket
 * (`issueTicket`, 32 random bytes, single use, 30 s) and the socket presents the ticket in its
 * path (`upgrade`). Each session is audited when it opens and when it ends (who, camera, from, to,
 * why; Shenzhen Art. 75), and a watcher cuts every session of a camera within `checkEveryMs` of
 * the gate closing: the notice withdrawn or expired, or anything else the gate refuses.
 */
export type LiveEndReason = 'viewer-closed' | 'notice-expired' | 'notice-withdrawn' | 'gate-closed' | 'agent-stopping' | 'stream-failed';

/** WebSocket close codes; the close reason is the LiveEndReason itself. */
export const CLOSE_CODES: Readonly<Record<LiveEndReason, number>> = {
  'viewer-closed': 1000,
  'agent-stopping': 1001,
  'notice-expired': 4403,
  'notice-withdrawn': 4403,
  'gate-closed': 4403,
  'stream-failed': 4502,
};

export interface LiveTicket {
  ticket: string;
  /** Path of the WebSocket that takes the ticket. */
  url: string;
  camera: string;
  notice: string;
  expiresAt: string;
}

export interface LiveCamera {
  id: string;
  name: string | null;
  /** Whether the gate lets the camera be watched now. */
  available: boolean;
  reason: string | null;
  viewers: number;
}

export interface LiveSessionInfo {
  id: string;
  camera: string;
  notice: string;
  from: string;
  bytes: number;
}

export interface LiveView {
  cameras(): LiveCamera[];
  /** Throws not-found, notice.missing, capture.blocked or conflict; a refusal is audited. */
  issueTicket(cameraId: string, actor: string): LiveTicket;
  /**
   * Takes the ticket and turns the request into a viewing session. Throws (and writes nothing
   * to the socket) when the ticket is unknown, used or expired, or the gate has closed since.
   */
  upgrade(ticket: string, req: IncomingMessage, socket: Duplex, head: Buffer): void;
  sessions(): LiveSessionInfo[];
  relays(): { camera: string; pid: number | undefined; viewers: number }[];
  /** Cuts every session (agent-stopping) and waits for every ffmpeg to exit. Idempotent. */
  stop(): Promise<void>;
}

export interface LiveViewDeps {
  cameras: readonly { id: string; name?: string | undefined }[];
  /** The capture gate now (CaptureService.gate): live view is capture, shown instead of stored. */
  gate: (cameraId: string) => CaptureDecision;
  /** To tell a withdrawn notice from an expired one. */
  notices: Pick<NoticeRegister, 'get'>;
  /** The RTSP URL to relay, credentials included; never logged. */
  resolveStreamUrl: (cameraId: string) => Promise<string>;
  audit: AuditLog;
  clock: Clock;
  ids: Ids;
  log: Logger;
  ffmpegPath?: string;
  /** Default 30 s. */
  ticketTtlMs?: number;
  /** How often open sessions are checked against the gate. Default 200 ms. */
  checkEveryMs?: number;
  /** Open sessions over all cameras. Default 16. */
  maxSessions?: number;
  /** A viewer that answers no WebSocket ping for this long is dropped, so its session ends on time. Default 15 s. */
  pingEveryMs?: number;
  relay?: Pick<Mpeg1RelayOptions, 'firstDataMs' | 'stallMs' | 'killGraceMs' | 'maxWidth' | 'bitrateKbps' | 'maxBufferedBytes'>;
}

interface Ticket { camera: string; actor: string; notice: string; expiresAt: number }

interface Session {
  id: string;
  camera: string;
  actor: string;
  notice: string;
  from: Date;
  bytes: number;
  ws: WebSocket;
  relay: Mpeg1Relay;
  viewer: RelayViewer;
  ended: boolean;
  /** A pong (or the open) since the last ping. */
  answered: boolean;
}

const MAX_TICKETS = 256;
/** A peer that does not answer our close frame is dropped after this long. */
const CLOSE_GRACE_MS = 1_000;
/** About a tenth of a second of video at the relay's bitrate. */
const CUT_BACKLOG_BYTES = 16 * 1024;

export const TICKET_PATTERN = '^[A-Za-z0-9_-]{43}$';
const TICKET_RE = new RegExp(TICKET_PATTERN);

const hashTicket = (t: string) => createHash('sha256').update(t, 'utf8').digest('hex');

export function createLiveView(deps: LiveViewDeps): LiveView {
  const { audit, clock, log } = deps;
  const ticketTtlMs = deps.ticketTtlMs ?? 30_000;
  const checkEveryMs = deps.checkEveryMs ?? 200;
  const maxSessions = deps.maxSessions ?? 16;
  const pingEveryMs = deps.pingEveryMs ?? 15_000;
  const known = new Map(deps.cameras.map((c) => [c.id, c.name ?? null]));
  const tickets = new Map<string, Ticket>();
  const sessions = new Map<string, Session>();
  const relays = new Map<string, Mpeg1Relay>();
  const stopping = new Set<Promise<void>>();
  // The agent's own HTTP server does the upgrade; viewers have nothing to say, so tiny frames only.
  const wss = new WebSocketServer({ noServer: true, clientTracking: false, perMessageDeflate: false, maxPayload: 1024 });
  let watcher: NodeJS.Timeout | undefined;
  let lastPing = 0;
  let stopped = false;

  function record(entry: Parameters<AuditLog['append']>[0]): void {
    try {
      audit.append(entry);
    } catch (error) {
      log.error({ err: error, action: entry.action }, 'live view audit entry failed');
    }
  }

  /** The gate for a camera, or the refusal as the error the API answers with. */
  function admit(cameraId: string, actor: string): Extract<CaptureDecision, { allow: true }> {
    const d = deps.gate(cameraId);
    if (d.allow) return d;
    record({ actor, action: 'live.refused', object: `camera:${cameraId}`, decision: 'deny', rule: d.rule, detail: { reason: d.reason, citation: d.citation } });
    const details = { reason: d.reason, rule: d.rule, citation: d.citation };
    throw new CamwardenError(d.reason === 'no-notice' ? 'notice.missing' : 'capture.blocked', `${d.message} (${d.rule}, ${d.citation})`, { details });
  }

  function pruneTickets(now: number): void {
    for (const [k, t] of tickets) if (t.expiresAt <= now) tickets.delete(k);
  }

  function closeSocket(ws: WebSocket, reason: LiveEndReason): void {
    if (ws.readyState === WebSocket.CLOSED) return;
    // A cut for the notice or the gate must not let a slow viewer's backlog play on for seconds:
    // with video still queued, the connection is dropped at once instead of closed politely.
    if (CLOSE_CODES[reason] === 4403 && ws.bufferedAmount > CUT_BACKLOG_BYTES) {
      ws.terminate();
      return;
    }
    const hard = setTimeout(() => ws.terminate(), CLOSE_GRACE_MS);
    hard.unref();
    ws.once('close', () => clearTimeout(hard));
    try {
      ws.close(CLOSE_CODES[reason], reason);
    } catch {
      ws.terminate();
    }
  }

  function end(s: Session, reason: LiveEndReason, extra: Record<string, unknown> = {}): void {
    if (s.ended) return;
    s.ended = true;
    sessions.delete(s.id);
    // Off the relay first: not one more byte goes to this viewer.
    if (s.relay.remove(s.viewer) === 0) {
      if (relays.get(s.camera) === s.relay) relays.delete(s.camera);
      const p = s.relay.stop().catch((error: unknown) => log.error({ err: error, camera: s.camera }, 'stopping ffmpeg failed'));
      stopping.add(p);
      void p.finally(() => stopping.delete(p));
    }
    if (reason !== 'viewer-closed') closeSocket(s.ws, reason);
    const to = clock.now();
    record({
      actor: s.actor,
      action: 'live.end',
      object: `camera:${s.camera}`,
      decision: 'done',
      rule: null,
      detail: { session: s.id, notice: s.notice, from: s.from.toISOString(), to: to.toISOString(), reason, bytes: s.bytes, ...extra },
    });
    log.info({ session: s.id, camera: s.camera, reason, seconds: Math.round((to.getTime() - s.from.getTime()) / 1000) }, 'live session ended');
    if (sessions.size === 0 && watcher !== undefined) {
      clearInterval(watcher);
      watcher = undefined;
    }
  }

  function reasonFor(s: Session, d: Extract<CaptureDecision, { allow: false }>): LiveEndReason {
    if (d.reason !== 'no-notice') return 'gate-closed';
    try {
      return deps.notices.get(s.notice).state === 'withdrawn' ? 'notice-withdrawn' : 'notice-expired';
    } catch {
      return 'notice-expired';
    }
  }

  /** A viewer whose network went away would keep ffmpeg running and its session open for minutes. */
  function ping(): void {
    const now = performance.now();
    if (now - lastPing < pingEveryMs) return;
    lastPing = now;
    for (const s of [...sessions.values()]) {
      if (!s.answered) {
        end(s, 'viewer-closed', { unanswered: true });
        s.ws.terminate();
        continue;
      }
      s.answered = false;
      try {
        s.ws.ping();
      } catch {
        // closing already: its 'close' ends the session
      }
    }
  }

  /** PIPL Art. 26: the picture goes when the notice goes. */
  function check(): void {
    const cameras = new Set([...sessions.values()].map((s) => s.camera));
    for (const camera of cameras) {
      const d = deps.gate(camera); // fails closed: an error inside is a refusal
      const open = [...sessions.values()].filter((s) => s.camera === camera);
      if (d.allow) {
        for (const s of open) s.notice = d.notice.id; // another current notice may have taken over
        continue;
      }
      for (const s of open) end(s, reasonFor(s, d), { rule: d.rule, citation: d.citation });
    }
  }

  function onRelayFailure(relay: Mpeg1Relay, f: RelayFailure): void {
    if (relays.get(relay.cameraId) === relay) relays.delete(relay.cameraId);
    for (const s of [...sessions.values()]) {
      if (s.relay === relay) end(s, 'stream-failed', { failure: f.reason, exitCode: f.exitCode });
    }
  }

  function relayFor(camera: string): Mpeg1Relay {
    let relay = relays.get(camera);
    if (relay === undefined) {
      const r: Mpeg1Relay = createMpeg1Relay({
        ...deps.relay,
        cameraId: camera,
        resolveUrl: () => deps.resolveStreamUrl(camera),
        onFailure: (f) => onRelayFailure(r, f),
        log,
        ...(deps.ffmpegPath === undefined ? {} : { ffmpegPath: deps.ffmpegPath }),
      });
      relay = r;
      relays.set(camera, r);
    }
    return relay;
  }

  function startWatcher(): void {
    if (watcher !== undefined) return;
    lastPing = performance.now();
    watcher = setInterval(() => {
      try {
        ping();
        check();
      } catch (error) {
        // Fail closed: a check that cannot run cuts everyone.
        log.error({ err: error }, 'live view check failed');
        for (const x of [...sessions.values()]) end(x, 'gate-closed', { rule: 'live.check-failed' });
      }
    }, checkEveryMs);
    watcher.unref();
  }

  function open(ws: WebSocket, t: Ticket): void {
    ws.on('error', (error) => log.debug({ err: error }, 'live socket error'));
    if (stopped) {
      closeSocket(ws, 'agent-stopping');
      return;
    }
    const id = deps.ids.next();
    const from = clock.now();
    try {
      audit.append({
        actor: t.actor,
        action: 'live.start',
        object: `camera:${t.camera}`,
        decision: 'permit',
        rule: 'live.security-role',
        detail: { session: id, notice: t.notice, from: from.toISOString() },
      });
    } catch (error) {
      // Shenzhen Art. 75: no viewing that the audit log does not record.
      log.error({ err: error, session: id }, 'live session refused: audit entry failed');
      ws.close(1011, 'audit-failed');
      return;
    }
    const s: Session = {
      id,
      camera: t.camera,
      actor: t.actor,
      notice: t.notice,
      from,
      bytes: 0,
      ws,
      relay: relayFor(t.camera),
      ended: false,
      answered: true,
      viewer: {
        send(data) {
          if (ws.readyState !== WebSocket.OPEN) return;
          s.bytes += data.length;
          ws.send(data);
        },
        bufferedAmount: () => ws.bufferedAmount,
      },
    };
    sessions.set(s.id, s);
    log.info({ session: s.id, camera: s.camera }, 'live session started');
    ws.on('close', () => end(s, 'viewer-closed'));
    ws.on('pong', () => {
      s.answered = true;
    });
    s.relay.add(s.viewer);
    startWatcher();
  }

  return {
    cameras: () =>
      [...known].map(([id, name]) => {
        const d = deps.gate(id);
        const viewers = [...sessions.values()].filter((s) => s.camera === id).length;
        return { id, name, available: d.allow, reason: d.allow ? null : d.reason, viewers };
      }),

    issueTicket(cameraId, actor) {
      if (stopped) throw new CamwardenError('conflict', 'the agent is stopping');
      if (!known.has(cameraId)) throw new CamwardenError('not-found', `camera ${cameraId} is not in the configuration`, { field: 'id' });
      const d = admit(cameraId, actor);
      const now = clock.now().getTime();
      pruneTickets(now);
      if (sessions.size >= maxSessions) throw new CamwardenError('conflict', `${maxSessions} live sessions are open; close one first`);
      if (tickets.size >= MAX_TICKETS) throw new CamwardenError('conflict', 'too many unused live tickets; wait 30 s');
      const ticket = randomBytes(32).toString('base64url');
      const t: Ticket = { camera: cameraId, actor, notice: d.notice.id, expiresAt: now + ticketTtlMs };
      tickets.set(hashTicket(ticket), t); // a heap dump shows no usable ticket
      return { ticket, url: `/v1/live/${ticket}`, camera: cameraId, notice: d.notice.id, expiresAt: new Date(t.expiresAt).toISOString() };
    },

    upgrade(ticket, req, socket, head) {
      if (stopped) throw new CamwardenError('conflict', 'the agent is stopping');
      const key = TICKET_RE.test(ticket) ? hashTicket(ticket) : '';
      const t = tickets.get(key);
      tickets.delete(key); // single use, whatever happens next
      if (t === undefined || t.expiresAt <= clock.now().getTime()) {
        throw new CamwardenError('auth.missing', 'the live ticket is unknown, used or expired; ask POST /v1/cameras/:id/live for a new one');
      }
      const d = admit(t.camera, t.actor); // the notice may have gone since the ticket was issued
      if (sessions.size >= maxSessions) throw new CamwardenError('conflict', `${maxSessions} live sessions are open; close one first`);
      wss.handleUpgrade(req, socket, head, (ws) => open(ws, { ...t, notice: d.notice.id }));
    },

    sessions: () => [...sessions.values()].map((s) => ({ id: s.id, camera: s.camera, notice: s.notice, from: s.from.toISOString(), bytes: s.bytes })),

    relays: () => [...relays.values()].map((r) => ({ camera: r.cameraId, pid: r.pid(), viewers: r.viewers() })),

    async stop() {
      stopped = true;
      tickets.clear();
      if (watcher !== undefined) clearInterval(watcher);
      watcher = undefined;
      for (const s of [...sessions.values()]) end(s, 'agent-stopping');
      await Promise.all([...relays.values()].map((r) => r.stop()));
      relays.clear();
      await Promise.all([...stopping]);
      wss.close();
    },
  };
}
