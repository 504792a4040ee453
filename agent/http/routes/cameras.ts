import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { CameraStatus } from '../../cameras/camera-supervisor.js';
import type { CameraConfig } from '../../config/schema.js';
import { CamwardenError } from '../../errors.js';
import { BEARER, IdParams, type RouteDeps } from './common.js';

/**
 * The cameras as the running agent sees them: config, the capture gate's answer now, and what the
 * camera's supervisor knows (online, capturing, who masks, frame counts, last error). Without a
 * running supervisor (push-only cameras, or a server built without one) the stored state is shown.
 */
export interface CameraRouteDeps extends RouteDeps {
  status: (cameraId: string) => CameraStatus | undefined;
}

export const cameraRoutes: FastifyPluginAsyncTypebox<CameraRouteDeps> = async (app, { services: s, auth, status }) => {
  const tags = ['cameras'];

  function describe(c: CameraConfig) {
    const gate = s.capture.gate(c.id);
    const live = status(c.id);
    const stored = s.inventory.get(c.id);
    const inventory = live?.inventory ?? stored?.inventory ?? null;
    return {
      id: c.id,
      name: c.name ?? null,
      location: c.location,
      enabled: c.enabled,
      faceRecognition: c.faceRecognition,
      source: c.source?.mode ?? null,
      privacyMasks: c.privacyMasks?.length ?? 0,
      masking: (c.privacyMasks?.length ?? 0) === 0 ? 'none' : live !== undefined ? (live.maskedByCamera ? 'camera' : 'agent') : (inventory?.masking ?? 'agent'),
      capture: gate.allow ? { allowed: true, notice: gate.notice.id } : { allowed: false, reason: gate.reason, rule: gate.rule, citation: gate.citation },
      supervised: live !== undefined,
      online: live !== undefined ? live.online : (stored?.online ?? null),
      capturing: live?.capturing ?? null,
      frames: live?.frames ?? null,
      lastError: live?.lastError ?? (stored?.lastError ? { message: stored.lastError } : null),
      inventory,
    };
  }

  app.get(
    '/v1/cameras',
    { onRequest: auth.requireRoles('operator', 'security', 'auditor'), schema: { tags, security: BEARER, summary: 'Cameras, whether each may capture now, and their state (operator, security, auditor)' } },
    async () => s.config.cameras.map(describe),
  );

  app.get(
    '/v1/cameras/:id',
    { onRequest: auth.requireRoles('operator', 'security', 'auditor'), schema: { tags, security: BEARER, summary: 'One camera and its state (operator, security, auditor)', params: IdParams } },
    async (req) => {
      const camera = s.config.cameras.find((c) => c.id === req.params.id);
      if (camera === undefined) throw new CamwardenError('not-found', `camera ${req.params.id} is not in the config`, { field: 'id' });
      return describe(camera);
    },
  );
};
