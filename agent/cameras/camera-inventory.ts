import { CameraError, sameMasks, type DeviceInformation, type MediaProfile, type OnvifCamera } from './onvif-camera.js';
import type { MaskPolygon } from './privacy-mask.js';

/**
 * What `cameras show` prints and the inventory refresh stores: plain JSON, no credentials (the
 * URIs come without them). `masking` says who blackens the collection area's excluded polygons:
 * the camera, only once its Media2 masks were read back equal to the config's; otherwise the agent,
 * by burning them in before anything is stored; `none` when the config asks for no masks.
 */
export interface CameraInventory {
  deviceInformation: DeviceInformation;
  profiles: MediaProfile[];
  /** Profile the stream and snapshot URIs belong to; null when the camera has no video profile. */
  profileToken: string | null;
  streamUri: string | null;
  snapshotUri: string | null;
  clockDriftMs: number;
  /** The camera offers Media2 privacy masks (CreateMask/GetMasks). */
  masksSupported: boolean;
  masking: 'camera' | 'agent' | 'none';
  refreshedAt: string;
}

export async function describeCamera(camera: OnvifCamera, now: Date, wantedMasks: readonly MaskPolygon[] = []): Promise<CameraInventory> {
  const [deviceInformation, profiles, clockDriftMs] = await Promise.all([
    camera.deviceInformation(),
    camera.profiles(),
    camera.clockDriftMs(),
  ]);
  const best = bestProfile(profiles);
  const [streamUri, snapshotUri] = best === undefined
    ? [null, null]
    : await Promise.all([optional(camera.streamUri(best.token)), optional(camera.snapshotUri(best.token))]);
  return {
    deviceInformation,
    profiles,
    profileToken: best?.token ?? null,
    streamUri,
    snapshotUri,
    clockDriftMs,
    masksSupported: camera.supportsMasks(),
    masking: wantedMasks.length === 0 ? 'none' : camera.supportsMasks() && sameMasks(await camera.getMasks(), wantedMasks) ? 'camera' : 'agent',
    refreshedAt: now.toISOString(),
  };
}

/** The highest-resolution H.264 profile; without one, the highest-resolution profile of any encoding. */
export function bestProfile(profiles: readonly MediaProfile[]): MediaProfile | undefined {
  const byPixels = [...profiles].sort((a, b) => b.width * b.height - a.width * a.height);
  return byPixels.find((p) => p.encoding.toUpperCase() === 'H264') ?? byPixels[0];
}

/**
 * Snapshots are optional in Profile S: a camera faulting GetSnapshotUri simply has none. A stream
 * URI the agent cannot use (a fault, another scheme) is recorded as none too, rather than taking a
 * snapshot or push camera offline; an rtsp source then says why it has no stream.
 */
async function optional(uri: Promise<string>): Promise<string | null> {
  try {
    return await uri;
  } catch (e) {
    if (e instanceof CameraError && e.kind === 'protocol') return null;
    throw e;
  }
}
