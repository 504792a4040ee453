import { sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJson } from '../canonical-json.js';

/**
 * The MQTT contract between agent and registry, in one file imported by both sides.
 * Topic tree camwarden/v1/{region}/{site}/{agent}/{kind}; every payload a signed envelope
 * with no personal data in its body.
 */
export const PROTOCOL_VERSION = 1;

export const REPORT_KINDS = [
  'image-stored',
  'capture-blocked',
  'capture-rejected',
  'notice-changed',
  'pia-changed',
  'images-purged',
  'store-reconciled',
  'camera-health',
  'agent-status',
] as const;
export type ReportKind = (typeof REPORT_KINDS)[number];

export interface Envelope<B = Record<string, unknown>> {
  v: typeof PROTOCOL_VERSION;
  id: string;
  agent: string;
  /** Strictly increasing per agent; the registry drops duplicates by (agent, seq). */
  seq: number;
  ts: string;
  kind: ReportKind;
  body: B;
  /** Ed25519 over canonicalJson of every other field, base64. */
  sig: string;
  /** Names the signing key (agent-keys keyIdOf). */
  kid: string;
}

export function topicFor(t: { region: string; site: string; agent: string; kind: ReportKind }): string {
  return `camwarden/v${PROTOCOL_VERSION}/${t.region}/${t.site}/${t.agent}/${t.kind}`;
}

export function signingInput(e: Omit<Envelope, 'sig'>): Buffer {
  return Buffer.from(canonicalJson({ v: e.v, id: e.id, agent: e.agent, seq: e.seq, ts: e.ts, kind: e.kind, body: e.body, kid: e.kid }));
}

export function signEnvelope(e: Omit<Envelope, 'sig'>, key: KeyObject): Envelope {
  return { ...e, sig: sign(null, signingInput(e), key).toString('base64') };
}

export function verifyEnvelope(e: Envelope, key: KeyObject): boolean {
  try {
    return verify(null, signingInput(e), key, Buffer.from(e.sig, 'base64'));
  } catch {
    return false;
  }
}

/** Bodies carry ids, counts, reasons and citations only: never images, faces or subjects. */
export interface ImageStoredBody {
  image: string;
  camera: string;
  notice: string;
  capturedAt: string;
  purpose: 'public-safety';
  retainUntil: string;
}

export interface CaptureBlockedBody {
  camera: string;
  reason: string;
  rule: string;
  citation: string;
  count: number;
  since: string;
}
