import { createHash, randomBytes } from 'node:crypto';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import onvif from 'onvif';
import { CamwardenError } from '../errors.js';
import { boundedSignal } from './bounded-signal.js';
import { validateMasks, type MaskPolygon } from './privacy-mask.js';

/**
 * The ONVIF adapter: one connected camera. Transport, WS-UsernameToken and the Media1/Media2 switch
 * come from the `onvif` package; its replies are parsed here from the raw XML, because the package
 * turns every numeric-looking text into a float (serial "12345678901234567890" and firmware "5.50"
 * would come back altered). Media2 masks, which the package does not speak, go out through fetch.
 */

export type CameraErrorKind = 'unreachable' | 'timeout' | 'auth' | 'protocol';

/** Until errors.ts has camera codes, `code` names the one each kind should map to. */
/** A camera failure, with its code in the one error table (camera.unreachable, .timeout, .auth, .protocol). */
export class CameraError extends CamwardenError {
  readonly kind: CameraErrorKind;
  declare readonly details: Record<string, unknown> | undefined;

  constructor(kind: CameraErrorKind, message: string, options: { details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(`camera.${kind}`, message, options);
    this.name = 'CameraError';
    this.kind = kind;
  }
}

export interface ConnectOptions {
  /** Device service URL, e.g. http://10.0.0.7/onvif/device_service (credentials in it are ignored). */
  url: string;
  username: string;
  password: string;
  /** Bound on every single request to the camera. */
  timeoutMs: number;
  /** Aborting ends every request in flight and makes the camera unusable, like close(). */
  signal?: AbortSignal;
}

export interface DeviceInformation {
  manufacturer: string;
  model: string;
  serial: string;
  firmware: string;
  hardwareId: string;
}

export interface MediaProfile {
  token: string;
  name: string;
  encoding: string;
  width: number;
  height: number;
  fps: number | null;
}

/** A mask as the camera holds it; ONVIF masks have no name, so `name` is the camera's token. */
export interface CameraMask extends MaskPolygon {
  token: string;
  enabled: boolean;
}

export interface OnvifCamera {
  /** The device service URL without credentials, for logs and messages. */
  readonly address: string;
  deviceInformation(): Promise<DeviceInformation>;
  profiles(): Promise<MediaProfile[]>;
  /** RTSP URI without credentials (the RTSP client adds them). */
  streamUri(profileToken: string): Promise<string>;
  snapshotUri(profileToken: string): Promise<string>;
  /** Camera UTC minus agent UTC, measured now. */
  clockDriftMs(): Promise<number>;
  /** Media2 with masks, as announced by GetServices at connect. */
  supportsMasks(): boolean;
  getMasks(): Promise<CameraMask[]>;
  /** Makes the camera's masks on the video source exactly these (no change when they already are). */
  setMasks(masks: MaskPolygon[]): Promise<void>;
  close(): void;
}

const NS = {
  soap12: 'http://www.w3.org/2003/05/soap-envelope',
  wsse: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd',
  wsu: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd',
  tr2: 'http://www.onvif.org/ver20/media/wsdl',
  tt: 'http://www.onvif.org/ver10/schema',
} as const;
const PASSWORD_DIGEST = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest';
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);

type Obj = Record<string, unknown>;
type Cam = InstanceType<typeof onvif.Cam>;
type LibCallback = (err: Error | null, data?: unknown, xml?: string) => void;

const parser = new XMLParser({
  removeNSPrefix: true,
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  isArray: (name) => ['Service', 'Profiles', 'Masks', 'Point'].includes(name),
});

export async function connectCamera(opts: ConnectOptions): Promise<OnvifCamera> {
  const base = new URL(opts.url);
  base.username = '';
  base.password = '';
  if (base.pathname === '/') base.pathname = '/onvif/device_service';
  const address = base.toString();
  const secure = base.protocol === 'https:';
  const agent = secure ? new HttpsAgent({ keepAlive: false }) : new HttpAgent({ keepAlive: false });
  const cam: Cam = new onvif.Cam({
    hostname: base.hostname, port: Number(base.port) || (secure ? 443 : 80), path: base.pathname,
    username: opts.username, password: opts.password, timeout: opts.timeoutMs, useSecure: secure, agent, autoconnect: false,
  });
  let closed = false;
  let driftMs = 0;
  let media2Url: string | undefined;
  let masks = false;
  const sourceConfigs = new Map<string, string>();
  const close = (): void => {
    closed = true;
    agent.destroy();
    opts.signal?.removeEventListener('abort', close);
  };
  opts.signal?.addEventListener('abort', close, { once: true });

  /** Every request: bounded by timeoutMs, cut by the caller's signal, failures as CameraError. */
  function guarded<T>(what: string, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (opts.signal?.aborted) return Promise.reject(opts.signal.reason);
    if (closed) return Promise.reject(new CameraError('unreachable', `${what}: the connection to ${address} is closed`, { details: { reason: 'closed' } }));
    const bounded = boundedSignal(opts.signal, opts.timeoutMs);
    const { signal } = bounded;
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        reject(opts.signal?.aborted ? opts.signal.reason : new CameraError('timeout', `${what}: no answer from ${address} within ${opts.timeoutMs} ms`));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      run(signal).then(resolve, (e: unknown) => reject(classify(e, what, address))).finally(() => {
        signal.removeEventListener('abort', onAbort);
        bounded.dispose();
      });
    });
  }

  /** A call into the onvif package; resolves with the reply's Body content, parsed here. */
  function lib(what: string, call: (cb: LibCallback) => void): Promise<{ data: unknown; body: Obj }> {
    return guarded(what, () => new Promise((resolve, reject) => {
      call((err, data, xml) => {
        if (err) reject(Object.assign(err, { soapXml: xml }));
        else resolve({ data, body: soapBody(xml ?? '', what, address) });
      });
    }));
  }

  /** SOAP we send ourselves (Media2 masks): WS-UsernameToken digest against the camera's clock. */
  function soap(url: string, what: string, body: string): Promise<Obj> {
    return guarded(what, async (signal) => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': `application/soap+xml; charset=utf-8` },
        body: `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="${NS.soap12}" xmlns:tr2="${NS.tr2}" xmlns:tt="${NS.tt}">` +
          `<s:Header>${usernameToken(opts.username, opts.password, new Date(Date.now() + driftMs))}</s:Header><s:Body>${body}</s:Body></s:Envelope>`,
        signal,
      });
      const text = await res.text();
      if (res.status === 401) throw new CameraError('auth', `${what}: ${address} refused the credentials`, { details: { reason: 'unauthorized' } });
      return soapBody(text, what, address);
    });
  }

  async function measureDrift(): Promise<number> {
    const t0 = Date.now();
    const { data } = await lib('GetSystemDateAndTime', (cb) => cam.getSystemDateAndTime(cb as never));
    const t1 = Date.now();
    if (!(data instanceof Date) || Number.isNaN(data.getTime())) throw protocol('GetSystemDateAndTime', address, 'no UTC date and time');
    // tt:Time carries whole seconds, truncated: the camera's clock is half a second on, on average.
    driftMs = data.getTime() + 500 - (t0 + (t1 - t0) / 2);
    // Keep the package's WS-Security Created in step with what we just measured.
    cam.timeShift = Date.now() + driftMs - process.uptime() * 1000;
    return Math.round(driftMs);
  }

  async function profiles(): Promise<MediaProfile[]> {
    const { body } = await lib('GetProfiles', (cb) => cam.getProfiles(cb as never));
    const list = asArray(obj(body.GetProfilesResponse)?.Profiles);
    const out: MediaProfile[] = [];
    for (const raw of list) {
      const p = obj(raw);
      // Media1 nests the encoder in the profile, Media2 under Configurations.
      const encoder = obj(p?.VideoEncoderConfiguration) ?? obj(obj(p?.Configurations)?.VideoEncoder);
      const source = obj(p?.VideoSourceConfiguration) ?? obj(obj(p?.Configurations)?.VideoSource);
      const token = str(p?.['@token']);
      if (!p || token === undefined) throw protocol('GetProfiles', address, 'a profile without a token');
      if (!encoder) continue; // audio or metadata only: not a video stream
      const resolution = obj(encoder.Resolution);
      const width = Number(str(resolution?.Width));
      const height = Number(str(resolution?.Height));
      if (!Number.isInteger(width) || !Number.isInteger(height)) throw protocol('GetProfiles', address, `profile ${token} has no resolution`);
      const fps = Number(str(obj(encoder.RateControl)?.FrameRateLimit));
      const sourceToken = str(source?.['@token']);
      if (sourceToken !== undefined) sourceConfigs.set(token, sourceToken);
      out.push({ token, name: str(p.Name) ?? token, encoding: str(encoder.Encoding) ?? 'unknown', width, height, fps: Number.isFinite(fps) && fps > 0 ? fps : null });
    }
    return out;
  }

  async function uri(what: 'GetStreamUri' | 'GetSnapshotUri', profileToken: string): Promise<string> {
    const { body } = what === 'GetStreamUri'
      ? await lib(what, (cb) => cam.getStreamUri({ protocol: 'RTSP', profileToken: xmlEscape(profileToken) } as never, cb as never))
      : await lib(what, (cb) => cam.getSnapshotUri({ profileToken: xmlEscape(profileToken) }, cb as never));
    const response = obj(body[`${what}Response`]);
    const found = str(obj(response?.MediaUri)?.Uri) ?? str(response?.Uri);
    if (found === undefined) throw protocol(what, address, 'no Uri in the answer');
    // Recorded as the camera said it; trustedCameraUri (stream-url.ts) decides before any use.
    return withoutCredentials(found, what, address);
  }

  async function sourceConfigToken(): Promise<string> {
    if (sourceConfigs.size === 0) await profiles();
    const token = sourceConfigs.values().next().value;
    if (token === undefined) throw protocol('GetProfiles', address, 'no video source configuration to mask');
    return token;
  }

  async function getMasks(configurationToken?: string): Promise<CameraMask[]> {
    if (media2Url === undefined || !masks) throw protocol('GetMasks', address, 'the camera has no Media2 mask service');
    const filter = configurationToken === undefined ? '' : `<tr2:ConfigurationToken>${xmlEscape(configurationToken)}</tr2:ConfigurationToken>`;
    const body = await soap(media2Url, 'GetMasks', `<tr2:GetMasks>${filter}</tr2:GetMasks>`);
    const response = obj(body.GetMasksResponse);
    if (!response && body.GetMasksResponse !== '') throw protocol('GetMasks', address, 'no GetMasksResponse');
    return asArray(response?.Masks).map((raw) => {
      const m = obj(raw);
      const token = str(m?.['@token']);
      const points = asArray(obj(m?.Polygon)?.Point).map((pt) => fromOnvif(Number(str(obj(pt)?.['@x'])), Number(str(obj(pt)?.['@y']))));
      if (token === undefined || points.some(([x, y]) => !Number.isFinite(x) || !Number.isFinite(y))) throw protocol('GetMasks', address, 'a mask without token or with a bad point');
      return { token, name: token, points, enabled: str(m?.Enabled) === 'true' };
    });
  }

  async function setMasks(wanted: MaskPolygon[]): Promise<void> {
    const clean = validateMasks(wanted);
    const config = await sourceConfigToken();
    const existing = await getMasks(config);
    if (sameMasks(existing, clean)) return;
    // ONVIF masks carry no owner: the agent owns every mask on the video source it manages.
    for (const m of existing) await soap(media2Url!, 'DeleteMask', `<tr2:DeleteMask><tr2:Token>${xmlEscape(m.token)}</tr2:Token></tr2:DeleteMask>`);
    for (const m of clean) {
      const points = m.points.map(([x, y]) => { const [ox, oy] = toOnvif(x, y); return `<tt:Point x="${ox}" y="${oy}"/>`; }).join('');
      const body = await soap(media2Url!, 'CreateMask',
        `<tr2:CreateMask><tr2:Mask><tr2:ConfigurationToken>${xmlEscape(config)}</tr2:ConfigurationToken>` +
        `<tr2:Polygon>${points}</tr2:Polygon><tr2:Type>Color</tr2:Type><tr2:Enabled>true</tr2:Enabled></tr2:Mask></tr2:CreateMask>`);
      if (str(obj(body.CreateMaskResponse)?.Token) === undefined) throw protocol('CreateMask', address, 'no mask token in the answer');
    }
  }

  try {
    await measureDrift();
    try {
      const { body } = await lib('GetServices', (cb) => cam.getServices(true, cb as never));
      for (const raw of asArray(obj(body.GetServicesResponse)?.Service)) {
        const s = obj(raw);
        const xaddr = str(s?.XAddr);
        if (str(s?.Namespace) !== NS.tr2 || xaddr === undefined) continue;
        // Like the package, reach services through the address we were given (cameras behind NAT).
        media2Url = new URL(new URL(xaddr, address).pathname, address).toString();
        masks = str(obj(obj(s?.Capabilities)?.Capabilities)?.['@Mask']) !== 'false';
      }
    } catch (e) {
      // Cameras older than ONVIF 2.0 have no GetServices; GetCapabilities still finds Media1.
      if (!(e instanceof CameraError) || e.kind !== 'protocol') throw e;
      await lib('GetCapabilities', (cb) => cam.getCapabilities(cb as never));
    }
    // GetSystemDateAndTime and GetServices are PRE_AUTH: this is the first call that checks the credentials.
    await lib('GetDeviceInformation', (cb) => cam.getDeviceInformation(cb as never));
  } catch (e) {
    close();
    throw e;
  }

  return {
    address,
    async deviceInformation() {
      const { body } = await lib('GetDeviceInformation', (cb) => cam.getDeviceInformation(cb as never));
      const r = obj(body.GetDeviceInformationResponse);
      if (!r) throw protocol('GetDeviceInformation', address, 'no GetDeviceInformationResponse');
      return {
        manufacturer: str(r.Manufacturer) ?? '', model: str(r.Model) ?? '', serial: str(r.SerialNumber) ?? '',
        firmware: str(r.FirmwareVersion) ?? '', hardwareId: str(r.HardwareId) ?? '',
      };
    },
    profiles,
    streamUri: (token) => uri('GetStreamUri', token),
    snapshotUri: (token) => uri('GetSnapshotUri', token),
    clockDriftMs: measureDrift,
    supportsMasks: () => media2Url !== undefined && masks,
    getMasks: () => getMasks(),
    setMasks,
    close,
  };
}

/** ONVIF normalised coordinates: -1..1, y up; ours: 0..1, y down. */
export function toOnvif(x: number, y: number): [number, number] {
  return [x * 2 - 1, 1 - y * 2];
}

export function fromOnvif(x: number, y: number): [number, number] {
  return [(x + 1) / 2, (1 - y) / 2];
}

/** The masks on the camera are exactly the wanted ones, enabled, in order (to a millionth of the frame). */
export function sameMasks(onCamera: readonly CameraMask[], wanted: readonly MaskPolygon[]): boolean {
  return onCamera.length === wanted.length && onCamera.every((m, i) => {
    const w = wanted[i]!;
    return m.enabled && m.points.length === w.points.length &&
      m.points.every(([x, y], j) => Math.abs(x - w.points[j]![0]) < 1e-6 && Math.abs(y - w.points[j]![1]) < 1e-6);
  });
}

function usernameToken(username: string, password: string, created: Date): string {
  const nonce = randomBytes(16);
  const createdText = created.toISOString();
  // ONVIF Core: the password is UTF-8 (the onvif package encodes it as ASCII).
  const digest = createHash('sha1').update(Buffer.concat([nonce, Buffer.from(createdText), Buffer.from(password, 'utf8')])).digest('base64');
  return (
    `<wsse:Security s:mustUnderstand="1" xmlns:wsse="${NS.wsse}" xmlns:wsu="${NS.wsu}"><wsse:UsernameToken>` +
    `<wsse:Username>${xmlEscape(username)}</wsse:Username><wsse:Password Type="${PASSWORD_DIGEST}">${digest}</wsse:Password>` +
    `<wsse:Nonce>${nonce.toString('base64')}</wsse:Nonce><wsu:Created>${createdText}</wsu:Created></wsse:UsernameToken></wsse:Security>`
  );
}

/** The content of a SOAP Body; a Fault becomes a CameraError (ter:NotAuthorized -> auth). */
function soapBody(xml: string, what: string, address: string): Obj {
  if (XMLValidator.validate(xml) !== true) throw protocol(what, address, 'the answer is not XML');
  const body = obj(obj(obj(parser.parse(xml) as unknown)?.Envelope)?.Body);
  if (!body) throw protocol(what, address, 'the answer is not a SOAP envelope');
  const fault = obj(body.Fault);
  if (fault) throw faultError(fault, what, address);
  return body;
}

function faultError(fault: Obj, what: string, address: string): CameraError {
  const codes: string[] = [];
  for (let c = obj(fault.Code); c; c = obj(c.Subcode)) {
    const v = str(c.Value);
    if (v !== undefined) codes.push(v);
  }
  const reason = str(obj(fault.Reason)?.Text) ?? '';
  if (codes.some((c) => /(^|:)NotAuthorized$/.test(c))) {
    return new CameraError('auth', `${what}: ${address} refused the credentials`, { details: { reason: 'unauthorized' } });
  }
  return new CameraError('protocol', `${what}: ${address} answered a SOAP fault ${codes.join('/')}${reason ? ` (${reason})` : ''}`,
    { details: { reason: 'soap', fault: codes } });
}

function classify(e: unknown, what: string, address: string): unknown {
  if (e instanceof CameraError || !(e instanceof Error)) return e;
  const xml = (e as { soapXml?: unknown }).soapXml;
  if (typeof xml === 'string' && xml.trim() !== '') {
    try {
      soapBody(xml, what, address);
    } catch (parsed) {
      if (parsed instanceof CameraError) return parsed;
    }
  }
  const code = (e as { code?: unknown }).code ?? ((e.cause ?? {}) as { code?: unknown }).code;
  if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) {
    return new CameraError('unreachable', `${what}: cannot reach ${address} (${code})`, { cause: e });
  }
  if (e.message === 'Network timeout') return new CameraError('timeout', `${what}: no answer from ${address} in time`, { cause: e });
  if (/authentication failed/i.test(e.message)) return new CameraError('auth', `${what}: ${address} refused the credentials`, { details: { reason: 'unauthorized' } });
  return new CameraError('protocol', `${what}: unexpected answer from ${address}: ${e.message}`, { details: { reason: 'soap' }, cause: e });
}

function protocol(what: string, address: string, message: string): CameraError {
  return new CameraError('protocol', `${what}: ${address}: ${message}`, { details: { reason: 'soap' } });
}

function withoutCredentials(uri: string, what: string, address: string): string {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    throw protocol(what, address, 'the URI in the answer is not a URL');
  }
  u.username = '';
  u.password = '';
  return u.toString();
}

function obj(v: unknown): Obj | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : undefined;
}

/** Text of an element that may carry attributes ({'#text': ...}). */
function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  const o = obj(v);
  return o && typeof o['#text'] === 'string' ? o['#text'] : undefined;
}

function asArray(v: unknown): unknown[] {
  return v === undefined || v === '' ? [] : Array.isArray(v) ? v : [v];
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
