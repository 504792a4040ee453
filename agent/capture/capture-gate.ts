import type { Notice } from '../notices/notice-register.js';
import type { Pia } from '../assessments/pia-register.js';

/**
 * The capture gate: a pure function of (camera, current notice, current assessment, config
 * facts, rules, now). It fails closed: anything it cannot establish is a block, and an
 * exception inside is a block too (see decideCaptureSafely).
 */
export type BlockReason =
  | 'camera-unknown'
  | 'camera-disabled'
  | 'private-space'
  | 'no-notice'
  | 'notice-mismatch'
  | 'no-impact-assessment'
  /** Live view only: the camera does not apply its privacy masks itself, so a live picture would show what they hide. */
  | 'masks-not-applied'
  | 'gate-error';

export interface GateCamera {
  id: string;
  enabled: boolean;
  faceRecognition: boolean;
  locationClass: string;
}

export interface GateSnapshot {
  camera: GateCamera | undefined;
  notice: Notice | undefined;
  pia: Pia | undefined;
  /** What the config does, to be compared with what the sign promises. */
  practice: { handler: string; purpose: 'public-safety'; retentionDays: number };
}

export interface GateRules {
  forbiddenLocationClasses: readonly string[];
  citations: Readonly<Record<string, string>>;
}

export type CaptureDecision =
  | { allow: true; notice: Notice; pia: Pia | undefined }
  | { allow: false; reason: BlockReason; rule: string; citation: string; message: string };

function block(reason: BlockReason, rule: string, citation: string | undefined, message: string): CaptureDecision {
  return { allow: false, reason, rule, citation: citation ?? 'PIPL Art. 26', message };
}

export function decideCapture(cameraId: string, s: GateSnapshot, rules: GateRules, now: Date): CaptureDecision {
  const c = rules.citations;
  const cam = s.camera;
  if (!cam) return block('camera-unknown', 'camera.unknown', c['notice'], `camera ${cameraId} is not in the configuration`);
  if (!cam.enabled) return block('camera-disabled', 'camera.disabled', c['notice'], `camera ${cam.id} is disabled`);
  // Measures Art. 13: never inside private spaces such as hotel rooms, toilets, changing rooms.
  if (rules.forbiddenLocationClasses.includes(cam.locationClass)) {
    return block('private-space', 'location.private-space', c['privateSpace'], `camera ${cam.id} is in a ${cam.locationClass}, a private space where capture is forbidden`);
  }
  // PIPL Art. 26: no prominent notice, no capture.
  const n = s.notice;
  if (!n || n.state !== 'verified' || !n.expiresAt || now.getTime() >= Date.parse(n.expiresAt)) {
    return block('no-notice', 'notice.required', c['notice'], `no current verified notice covers camera ${cam.id}`);
  }
  // Shenzhen Art. 14: the sign must say what is actually done.
  const t = n.content.terms;
  const mismatches: string[] = [];
  if (t.retentionDays !== s.practice.retentionDays) mismatches.push(`retention: sign says ${t.retentionDays} days, config keeps ${s.practice.retentionDays}`);
  if (t.purpose !== s.practice.purpose) mismatches.push(`purpose: sign says ${t.purpose}, config ${s.practice.purpose}`);
  if (t.handler !== s.practice.handler) mismatches.push(`handler: sign says "${t.handler}", config "${s.practice.handler}"`);
  if (cam.faceRecognition && !t.faceRecognition) mismatches.push('face recognition: camera runs it, sign does not announce it');
  if (mismatches.length > 0) {
    return block('notice-mismatch', 'notice.content-mismatch', c['noticeContent'], `notice ${n.id} does not match practice for camera ${cam.id}: ${mismatches.join('; ')}`);
  }
  // Measures Art. 9: no current impact assessment, no face processing.
  let pia: Pia | undefined;
  if (cam.faceRecognition) {
    pia = s.pia;
    if (!pia || !pia.current || now.getTime() >= Date.parse(pia.reviewBy)) {
      return block('no-impact-assessment', 'pia.required', c['pia'], `camera ${cam.id} runs face recognition without a current impact assessment`);
    }
  }
  return { allow: true, notice: n, pia };
}

export function decideCaptureSafely(cameraId: string, load: () => GateSnapshot, rules: GateRules, now: Date): CaptureDecision {
  try {
    return decideCapture(cameraId, load(), rules, now);
  } catch (error) {
    return block('gate-error', 'gate.error', rules.citations['notice'], `capture gate failed closed: ${(error as Error).message}`);
  }
}
