import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { CameraConfig } from '../config/schema.js';
import { CamwardenError } from '../errors.js';
import type { InventoryStore } from './inventory-store.js';
import { readPasswordFile } from './password-file.js';

/**
 * The RTSP URL of a camera as ffmpeg takes it: the configured `source.rtspUrl`, else the stream URI
 * the last ONVIF inventory found; the camera's credentials go into the URL (RTSP has no other way
 * to hand them to ffmpeg). The result is a secret: log it only through `redactCredentials`.
 */
export function withCredentials(raw: string, username: string | undefined, password: string | undefined): string {
  const url = new URL(raw);
  if (username !== undefined && password !== undefined) {
    url.username = encodeURIComponent(username);
    url.password = encodeURIComponent(password);
  }
  return url.toString();
}

/**
 * A URI the camera reported (ONVIF GetStreamUri/GetSnapshotUri) gets the camera's credentials only
 * when it points at the host the agent talks ONVIF to: a spoofed or relayed answer naming another
 * host must not receive the password. A camera whose streams live elsewhere (an NVR, NAT) needs the
 * URL in the config, where the operator vouches for it.
 */
export function trustedCameraUri(reported: string, onvifUrl: string | undefined, field: string, onvifAddresses: readonly string[] = []): string {
  const url = new URL(reported);
  const schemes = field === 'source.rtspUrl' ? ['rtsp:', 'rtsps:'] : ['http:', 'https:'];
  if (!schemes.includes(url.protocol)) {
    throw new CamwardenError('camera.protocol', `the camera reports ${field} as a ${url.protocol} URI; only ${schemes.join(' or ')} is used`, { field, details: { reason: 'foreign-scheme' } });
  }
  if (onvifUrl === undefined) return reported;
  const host = bare(url.hostname);
  const expected = bare(new URL(onvifUrl).hostname);
  // A camera addressed by name usually reports its IP address: the addresses the name resolved to count.
  if (host !== expected && !onvifAddresses.map(bare).includes(host)) {
    throw new CamwardenError('camera.protocol', `the camera reports ${field} on host ${host}, not on its ONVIF host ${expected}; set ${field} in the config to use it`, {
      field, details: { reason: 'foreign-host' },
    });
  }
  return reported;
}

function bare(host: string): string {
  return host.toLowerCase().replace(/^\[|\]$/g, '');
}

/** The addresses the ONVIF host name resolves to (none for an address, or when it does not resolve). */
export async function resolveOnvifHost(onvifUrl: string | undefined): Promise<string[]> {
  if (onvifUrl === undefined) return [];
  const host = bare(new URL(onvifUrl).hostname);
  if (isIP(host) !== 0) return [];
  try {
    return (await lookup(host, { all: true })).map((a) => a.address);
  } catch {
    return [];
  }
}

export async function cameraStreamUrl(camera: CameraConfig, inventory: Pick<InventoryStore, 'get'>): Promise<string> {
  const configured = camera.source?.mode === 'rtsp' ? camera.source.rtspUrl : undefined;
  const reported = inventory.get(camera.id)?.inventory?.streamUri ?? undefined;
  const raw = configured ?? (reported === undefined ? undefined : trustedCameraUri(reported, camera.onvif?.url, 'source.rtspUrl', await resolveOnvifHost(camera.onvif?.url)));
  if (raw === undefined) {
    throw new CamwardenError('not-found', `camera ${camera.id} has no known RTSP stream: set source.rtspUrl, or let the agent read its ONVIF inventory first`, { field: 'source.rtspUrl' });
  }
  if (camera.onvif === undefined) return withCredentials(raw, undefined, undefined);
  const password = await readPasswordFile(camera.onvif.passwordFile, `cameras.${camera.id}.onvif.passwordFile`);
  return withCredentials(raw, camera.onvif.username, password);
}
