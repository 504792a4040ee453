import { createHash, randomBytes } from 'node:crypto';
import { boundedSignal } from './bounded-signal.js';
import { CameraError } from './onvif-camera.js';

/**
 * One JPEG from a camera's HTTP snapshot URI. Cameras protect it with HTTP Digest (RFC 7616; MD5 and
 * qop=auth in practice) or, rarely, Basic. The first request of a host costs a 401 round trip for the
 * challenge; with a `challenges` cache the next requests answer the cached nonce at once (nc counting
 * up), so a camera polled every second is asked once, not twice, per frame.
 */
export interface SnapshotOptions {
  username?: string;
  password?: string;
  /** Bound on each HTTP request, body included. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Largest body accepted; 32 MiB by default. */
  maxBytes?: number;
  /** Challenges per origin, kept by the caller (one per camera) for the next request. */
  challenges?: ChallengeCache;
}

export type ChallengeCache = Map<string, Challenge>;

export type Challenge =
  | { scheme: 'basic' }
  | { scheme: 'digest'; realm: string; nonce: string; opaque?: string; algorithm: string; qop: 'auth' | null; nc: number };

export const DEFAULT_MAX_SNAPSHOT_BYTES = 32 * 1024 * 1024;
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET']);
const HASHES: Record<string, string> = { 'MD5': 'md5', 'MD5-SESS': 'md5', 'SHA-256': 'sha256', 'SHA-256-SESS': 'sha256' };

export async function fetchSnapshot(url: string, opts: SnapshotOptions): Promise<Buffer> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new CameraError('protocol', 'the snapshot URL is not a URL', { details: { reason: 'bad-url' } });
  }
  // Credentials in the URL are taken out: fetch refuses them, and no message may carry them.
  const username = opts.username ?? decodeURIComponent(target.username);
  const password = opts.password ?? decodeURIComponent(target.password);
  target.username = '';
  target.password = '';
  const where = `${target.origin}${target.pathname}`;
  const challenges = opts.challenges ?? new Map<string, Challenge>();
  const origin = target.origin;
  const uri = `${target.pathname}${target.search}`;

  let challenge = challenges.get(origin);
  for (let attempt = 0; ; attempt++) {
    const headers: Record<string, string> = { Accept: 'image/jpeg, image/*;q=0.9' };
    if (challenge !== undefined && username !== '') headers['Authorization'] = authorization(challenge, 'GET', uri, username, password);
    const res = await request(target, headers, opts, where, async (res) => {
      if (res.status === 401) {
        const next = parseChallenge(res.headers.get('www-authenticate'));
        if (next === undefined) throw new CameraError('protocol', `${where} asked for an authentication scheme this agent does not speak`, { details: { reason: 'auth-scheme' } });
        // A camera that offers Digest (in a variant we cannot answer) beside Basic does not get the
        // password in clear over plain HTTP: that is a downgrade, whoever put Basic in the answer.
        if (next.scheme === 'basic' && target.protocol === 'http:' && /\bDigest\s/i.test(res.headers.get('www-authenticate') ?? '')) {
          throw new CameraError('auth', `${where} offers only a Digest variant this agent cannot answer; the password is not sent in clear instead`, { details: { reason: 'auth-downgrade' } });
        }
        // One retry after a fresh challenge, or after a cached one went stale; a second 401 is a refusal.
        if (username === '' || attempt > 0) {
          challenges.delete(origin);
          throw new CameraError('auth', `${where} refused the credentials`, { details: { reason: 'unauthorized' } });
        }
        challenge = next;
        challenges.set(origin, next);
        return undefined;
      }
      if (res.status === 403) throw new CameraError('auth', `${where} forbids the snapshot to this user (HTTP 403)`, { details: { reason: 'forbidden', status: 403 } });
      if (res.status !== 200) throw new CameraError('protocol', `${where} answered HTTP ${res.status}`, { details: { reason: 'http-status', status: res.status } });
      const contentType = res.headers.get('content-type');
      if (!isImageType(contentType)) {
        // An HTML error page with status 200: not read beyond what is already buffered.
        throw new CameraError('protocol', `${where} answered ${contentType} instead of an image`, { details: { reason: 'not-an-image', contentType } });
      }
      return readBounded(res, opts.maxBytes ?? DEFAULT_MAX_SNAPSHOT_BYTES, where);
    });
    if (res !== undefined) return res;
  }
}

/** One HTTP exchange under its own timeout and the caller's signal; the body is cancelled unless read. */
async function request<T>(
  target: URL,
  headers: Record<string, string>,
  opts: SnapshotOptions,
  where: string,
  handle: (res: Response) => Promise<T>,
): Promise<T> {
  if (opts.signal?.aborted) throw opts.signal.reason;
  const bounded = boundedSignal(opts.signal, opts.timeoutMs);
  let res: Response | undefined;
  try {
    res = await fetch(target, { headers, signal: bounded.signal, redirect: 'manual' });
    return await handle(res);
  } catch (e) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    if (bounded.timedOut()) throw new CameraError('timeout', `${where}: no snapshot within ${opts.timeoutMs} ms`, { details: { reason: 'timeout' } });
    if (e instanceof CameraError) throw e;
    const code = codeOf(e);
    if (code !== undefined && UNREACHABLE_CODES.has(code)) throw new CameraError('unreachable', `cannot reach ${where} (${code})`, { details: { reason: code } });
    throw new CameraError('unreachable', `${where}: ${(e as Error).message}`, { details: { reason: code ?? 'fetch' } });
  } finally {
    bounded.dispose();
    if (res?.body && !res.bodyUsed) res.body.cancel().catch(() => undefined);
  }
}

function isImageType(contentType: string | null): boolean {
  // Some cameras send no type or a generic one; the capture path checks the bytes are a JPEG anyway.
  if (contentType === null || contentType.trim() === '') return true;
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  return type.startsWith('image/') || type === 'application/octet-stream';
}

async function readBounded(res: Response, maxBytes: number, where: string): Promise<Buffer> {
  const tooLarge = (): CameraError =>
    new CameraError('protocol', `${where} sent a snapshot larger than ${maxBytes} bytes`, { details: { reason: 'too-large', maxBytes } });
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
  if (res.body === null) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        // Cancelling closes the connection: a camera streaming endlessly at its snapshot URL must
        // not keep one socket per poll open.
        await reader.cancel().catch(() => undefined);
        throw tooLarge();
      }
      chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    }
  } finally {
    reader.releaseLock();
  }
  return Buffer.concat(chunks, size);
}

/** The strongest challenge we can answer: Digest (known algorithm) over Basic. */
export function parseChallenge(header: string | null): Challenge | undefined {
  if (header === null) return undefined;
  const at = header.search(/\bDigest\s/i);
  if (at >= 0) {
    // Several challenges may arrive joined with ", "; the Digest parameters end where the next scheme starts.
    const rest = header.slice(at).replace(/^Digest\s+/i, '');
    const end = rest.search(/,\s*(Basic|Bearer|Negotiate|NTLM|Digest)\s/i);
    const p = authParams(end >= 0 ? rest.slice(0, end) : rest);
    const algorithm = (p['algorithm'] ?? 'MD5').toUpperCase();
    const qops = (p['qop'] ?? '').split(',').map((q) => q.trim().toLowerCase());
    if (p['nonce'] !== undefined && p['realm'] !== undefined && HASHES[algorithm] !== undefined && (p['qop'] === undefined || qops.includes('auth'))) {
      return {
        scheme: 'digest', realm: p['realm'], nonce: p['nonce'], algorithm, qop: p['qop'] === undefined ? null : 'auth', nc: 0,
        ...(p['opaque'] !== undefined ? { opaque: p['opaque'] } : {}),
      };
    }
  }
  if (/(^|[\s,])Basic(\s|$)/i.test(header)) return { scheme: 'basic' };
  return undefined;
}

/** The Authorization header answering `c`; counts the nonce use up (nc) in the cached challenge. */
export function authorization(c: Challenge, method: string, uri: string, username: string, password: string): string {
  if (c.scheme === 'basic') return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
  const algo = HASHES[c.algorithm]!;
  const h = (s: string): string => createHash(algo).update(s, 'utf8').digest('hex');
  c.nc += 1;
  const nc = c.nc.toString(16).padStart(8, '0');
  const cnonce = randomBytes(8).toString('hex');
  let ha1 = h(`${username}:${c.realm}:${password}`);
  if (c.algorithm.endsWith('-SESS')) ha1 = h(`${ha1}:${c.nonce}:${cnonce}`);
  const ha2 = h(`${method}:${uri}`);
  const response = c.qop === 'auth' ? h(`${ha1}:${c.nonce}:${nc}:${cnonce}:auth:${ha2}`) : h(`${ha1}:${c.nonce}:${ha2}`);
  const q = (s: string): string => `"${s.replace(/(["\\])/g, '\\$1')}"`;
  return (
    `Digest username=${q(username)}, realm=${q(c.realm)}, nonce=${q(c.nonce)}, uri=${q(uri)}, algorithm=${c.algorithm}, ` +
    (c.qop === 'auth' ? `qop=auth, nc=${nc}, cnonce=${q(cnonce)}, ` : '') +
    `response=${q(response)}` + (c.opaque !== undefined ? `, opaque=${q(c.opaque)}` : '')
  );
}

function authParams(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of s.matchAll(/([a-zA-Z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    const key = m[1]!.toLowerCase();
    out[key] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '');
  }
  return out;
}

function codeOf(e: unknown): string | undefined {
  for (let c: unknown = e, depth = 0; c instanceof Error && depth < 4; c = c.cause, depth++) {
    const code = (c as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}
