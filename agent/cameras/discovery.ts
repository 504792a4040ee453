import { randomUUID } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { isIPv4 } from 'node:net';
import { networkInterfaces } from 'node:os';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { CamwardenError } from '../errors.js';
import { CameraError, connectCamera, type CameraErrorKind, type DeviceInformation } from './onvif-camera.js';

/**
 * WS-Discovery (2005/04, the version ONVIF uses) over SOAP-over-UDP. Written here rather than with
 * the onvif package's Discovery, which probes only the multicast group, cannot probe a chosen host
 * and port, does not check RelatesTo, and emits 'error' on a module-wide emitter for a malformed
 * reply (a crash when nobody listens).
 */

export const WS_DISCOVERY_MULTICAST = { host: '239.255.255.250', port: 3702 } as const;

export interface DiscoveryOptions {
  /** How long to collect answers after the probe goes out. */
  timeoutMs: number;
  /** Interface name (eth0) or IPv4 address to probe from; the default route when absent. */
  interface?: string;
  /** Unicast probes, for tests and networks without multicast. */
  targets?: { host: string; port: number }[];
  /** Probe the multicast group too; by default only when there are no targets. */
  multicast?: boolean;
  signal?: AbortSignal;
}

export interface DiscoveredDevice {
  /** The first XAddr: the device service URL. */
  address: string;
  xaddrs: string[];
  /** urn:uuid:... of the device, stable across address changes. */
  endpoint: string;
  /** QNames, with the well-known prefixes (tdn:, tds:, wsdp:) or as {namespace}local. */
  types: string[];
  scopes: string[];
  name?: string;
  hardware?: string;
  isCamera: boolean;
}

export interface DiscoveryReport {
  devices: DiscoveredDevice[];
  /** Datagrams sent (each probe is sent twice, as SOAP-over-UDP repeats). */
  probesSent: number;
  /** Replies that were not XML, not SOAP 1.2, or a ProbeMatch without endpoint or address. */
  malformed: number;
  /** Well-formed replies to someone else's probe. */
  unrelated: number;
}

export interface EnrichedDevice extends DiscoveredDevice {
  deviceInformation?: DeviceInformation;
  /** Why no device information: the camera could not be reached, refused the credentials, ... */
  error?: CameraErrorKind;
}

const NS = {
  soap12: 'http://www.w3.org/2003/05/soap-envelope',
  wsa: 'http://schemas.xmlsoap.org/ws/2004/08/addressing',
  wsd: 'http://schemas.xmlsoap.org/ws/2005/04/discovery',
  tdn: 'http://www.onvif.org/ver10/network/wsdl',
} as const;
const PREFIXES = new Map<string, string>([
  [NS.tdn, 'tdn'],
  ['http://www.onvif.org/ver10/device/wsdl', 'tds'],
  ['http://schemas.xmlsoap.org/ws/2006/02/devprof', 'wsdp'],
]);
const VIDEO_SCOPES = ['onvif://www.onvif.org/type/video_encoder', 'onvif://www.onvif.org/type/NetworkVideoTransmitter'];
const REPEAT_AFTER_MS = 100;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
});

export async function discover(opts: DiscoveryOptions): Promise<DiscoveredDevice[]> {
  return (await probeNetwork(opts)).devices;
}

export async function probeNetwork(opts: DiscoveryOptions): Promise<DiscoveryReport> {
  opts.signal?.throwIfAborted();
  const local = opts.interface === undefined ? undefined : interfaceAddress(opts.interface);
  const targets = [...(opts.targets ?? [])];
  if (opts.multicast ?? targets.length === 0) targets.push(WS_DISCOVERY_MULTICAST);
  const report: DiscoveryReport = { devices: [], probesSent: 0, malformed: 0, unrelated: 0 };
  const ours = new Set<string>();
  const seen = new Map<string, DiscoveredDevice>();

  const socket = createSocket({ type: 'udp4' });
  // Send errors (no multicast route, a target port closed) lose that probe only.
  socket.on('error', () => undefined);
  socket.on('message', (msg) => {
    const reply = parseProbeMatches(msg.toString('utf8'));
    if (reply === 'malformed') report.malformed += 1;
    else if (!ours.has(reply.relatesTo)) report.unrelated += 1;
    else for (const d of reply.devices) if (!seen.has(d.endpoint)) seen.set(d.endpoint, d);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, local ?? '0.0.0.0', () => { socket.off('error', reject); resolve(); });
  });
  try {
    if (local !== undefined) socket.setMulticastInterface(local);
    const probes = targets.map((t) => {
      const id = `urn:uuid:${randomUUID()}`;
      ours.add(id);
      return { ...t, message: Buffer.from(probeMessage(id)) };
    });
    const sendAll = (): void => {
      for (const p of probes) {
        socket.send(p.message, p.port, p.host, (err) => { if (!err) report.probesSent += 1; });
      }
    };
    sendAll();
    await wait(Math.min(REPEAT_AFTER_MS, opts.timeoutMs), opts.signal);
    if (opts.timeoutMs > REPEAT_AFTER_MS) {
      sendAll();
      await wait(opts.timeoutMs - REPEAT_AFTER_MS, opts.signal);
    }
  } finally {
    socket.close();
  }
  report.devices = [...seen.values()];
  return report;
}

/** Device information for the `cameras discover` listing; a failure is recorded, never thrown. */
export async function enrich(
  device: DiscoveredDevice,
  credentials: { username: string; password: string; timeoutMs?: number; signal?: AbortSignal },
): Promise<EnrichedDevice> {
  try {
    const camera = await connectCamera({
      url: device.address, username: credentials.username, password: credentials.password,
      timeoutMs: credentials.timeoutMs ?? 5000, ...(credentials.signal ? { signal: credentials.signal } : {}),
    });
    try {
      return { ...device, deviceInformation: await camera.deviceInformation() };
    } finally {
      camera.close();
    }
  } catch (e) {
    if (e instanceof CameraError) return { ...device, error: e.kind };
    throw e;
  }
}

export function probeMessage(messageId: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="${NS.soap12}" xmlns:a="${NS.wsa}" xmlns:d="${NS.wsd}" ` +
    `xmlns:tdn="${NS.tdn}"><s:Header><a:MessageID>${messageId}</a:MessageID>` +
    '<a:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>' +
    '<a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action></s:Header>' +
    '<s:Body><d:Probe><d:Types>tdn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body></s:Envelope>'
  );
}

/** A namespace-aware view over fast-xml-parser's output: prefixes resolve through xmlns declarations. */
interface El {
  node: unknown;
  scope: Map<string, string>;
}

export function parseProbeMatches(xml: string): 'malformed' | { relatesTo: string; devices: DiscoveredDevice[] } {
  try {
    if (XMLValidator.validate(xml) !== true) return 'malformed';
    const envelope = kids({ node: parser.parse(xml), scope: new Map() }, NS.soap12, 'Envelope')[0];
    const relatesTo = text(kids(kids(envelope, NS.soap12, 'Header')[0], NS.wsa, 'RelatesTo')[0]);
    const matches = kids(kids(kids(envelope, NS.soap12, 'Body')[0], NS.wsd, 'ProbeMatches')[0], NS.wsd, 'ProbeMatch');
    if (envelope === undefined || matches.length === 0) return 'malformed';
    const devices: DiscoveredDevice[] = [];
    for (const m of matches) {
      const endpoint = text(kids(kids(m, NS.wsa, 'EndpointReference')[0], NS.wsa, 'Address')[0]);
      const xaddrs = words(text(kids(m, NS.wsd, 'XAddrs')[0])).filter((a) => /^https?:\/\//i.test(a));
      const typesEl = kids(m, NS.wsd, 'Types')[0];
      const types = words(text(typesEl)).map((q) => qname(q, typesEl!.scope));
      const scopes = words(text(kids(m, NS.wsd, 'Scopes')[0]));
      if (endpoint === '' || xaddrs.length === 0) return 'malformed';
      const name = scopeValue(scopes, 'name');
      const hardware = scopeValue(scopes, 'hardware');
      devices.push({
        address: xaddrs[0]!, xaddrs, endpoint, types: types.map((t) => t.display), scopes,
        ...(name !== undefined ? { name } : {}), ...(hardware !== undefined ? { hardware } : {}),
        isCamera: types.some((t) => t.ns === NS.tdn && t.local === 'NetworkVideoTransmitter') || scopes.some((s) => VIDEO_SCOPES.includes(s)),
      });
    }
    return { relatesTo, devices };
  } catch {
    return 'malformed';
  }
}

function kids(el: El | undefined, ns: string, local: string): El[] {
  const out: El[] = [];
  if (el === undefined || typeof el.node !== 'object' || el.node === null) return out;
  for (const [key, value] of Object.entries(el.node)) {
    if (key.startsWith('@_') || key === '#text') continue;
    const i = key.indexOf(':');
    if ((i < 0 ? key : key.slice(i + 1)) !== local) continue;
    for (const v of Array.isArray(value) ? value : [value]) {
      const scope = new Map(el.scope);
      if (typeof v === 'object' && v !== null) {
        for (const [k, decl] of Object.entries(v as Record<string, unknown>)) {
          if (k === '@_xmlns') scope.set('', String(decl));
          else if (k.startsWith('@_xmlns:')) scope.set(k.slice(8), String(decl));
        }
      }
      if (scope.get(i < 0 ? '' : key.slice(0, i)) === ns) out.push({ node: v, scope });
    }
  }
  return out;
}

function text(el: El | undefined): string {
  if (el === undefined) return '';
  if (typeof el.node === 'string') return el.node.trim();
  const t = (el.node as Record<string, unknown> | null)?.['#text'];
  return typeof t === 'string' || typeof t === 'number' ? String(t).trim() : '';
}

function words(s: string): string[] {
  return s.split(/\s+/).filter(Boolean);
}

function qname(q: string, scope: Map<string, string>): { ns: string; local: string; display: string } {
  const i = q.indexOf(':');
  const local = i < 0 ? q : q.slice(i + 1);
  const ns = scope.get(i < 0 ? '' : q.slice(0, i)) ?? '';
  const prefix = PREFIXES.get(ns);
  return { ns, local, display: prefix !== undefined ? `${prefix}:${local}` : `{${ns}}${local}` };
}

function scopeValue(scopes: string[], kind: string): string | undefined {
  const prefix = `onvif://www.onvif.org/${kind}/`;
  const found = scopes.find((s) => s.startsWith(prefix));
  if (found === undefined) return undefined;
  try {
    return decodeURIComponent(found.slice(prefix.length));
  } catch {
    return found.slice(prefix.length);
  }
}

function interfaceAddress(name: string): string {
  if (isIPv4(name)) return name;
  const address = networkInterfaces()[name]?.find((a) => a.family === 'IPv4')?.address;
  if (address === undefined) throw new CamwardenError('input.invalid', `no IPv4 interface named "${name}"`, { field: 'interface' });
  return address;
}

function wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (): void => { signal?.removeEventListener('abort', onAbort); resolve(); };
    const timer = setTimeout(done, ms);
    const onAbort = (): void => { clearTimeout(timer); reject(signal!.reason); };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
