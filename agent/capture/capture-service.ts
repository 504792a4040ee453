import { createHash } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.js';
import type { Clock, Ids } from '../clock.js';
import { addDays } from '../clock.js';
import { CamwardenError, isCamwardenError } from '../errors.js';
import type { AgentKeys } from '../keys/agent-keys.js';
import type { Logger } from '../log.js';
import type { NoticeRegister } from '../notices/notice-register.js';
import type { PiaRegister } from '../assessments/pia-register.js';
import type { Outbox } from '../reporting/outbox.js';
import type { BlobStore } from '../store/blob-store.js';
import type { Db } from '../store/open-database.js';
import { decideCaptureSafely, type CaptureDecision, type GateCamera, type GateRules } from './capture-gate.js';
import type { ImageRecords } from './image-records.js';
import { signAndTagJpegParts, type TagFields } from './image-tag.js';
import { walkJpeg } from './jpeg-walk.js';
import { burnInMasks, type MaskPolygon } from '../cameras/privacy-mask.js';
import { purposeTerms } from './purpose-terms.js';
import type { ViolationReporter } from './violation-reporter.js';

/**
 * The one capture path. Every source (CLI ingest, snapshot polling, RTSP frames, camera push)
 * calls ingest(); nothing reaches the disk any other way.
 */
export type IngestSource = 'cli' | 'snapshot' | 'rtsp' | 'push' | 'bench';

export type IngestResult =
  | { status: 'stored'; imageId: string; bytes: number; width: number; height: number; noticeId: string }
  | { status: 'blocked'; reason: string; rule: string; citation: string; message: string }
  | { status: 'rejected'; reason: string; code: string; message: string };

export interface CaptureCounters {
  stored: number;
  blocked: Record<string, number>;
  rejected: Record<string, number>;
}

export interface CaptureSettings {
  agentId: string;
  siteId: string;
  handler: string;
  retentionDays: number;
  limits: { maxBytes: number; maxWidth: number; maxHeight: number };
  cameras: readonly GateCamera[];
  rules: GateRules;
  legalBasis: string;
  /** Privacy masks per camera (Measures Art. 13), normalised polygons. */
  masks?: ReadonlyMap<string, readonly MaskPolygon[]>;
}

export interface CaptureService {
  ingest(cameraId: string, bytes: Buffer, opts?: { source?: IngestSource }): Promise<IngestResult>;
  counters(): CaptureCounters;
  /**
   * The gate's decision for a camera now, without a frame: sources ask it so they do not even pull
   * frames the gate would refuse. Only advice: every frame is still decided on its own.
   */
  gate(cameraId: string): CaptureDecision;
  /** Inventory tells whether a camera applies its masks itself (ONVIF Media2); until then the agent burns them in. */
  setMaskedByCamera(cameraId: string, byCamera: boolean): void;
  /** The camera applies its privacy masks itself (verified); otherwise only stored frames are masked, by burn-in. */
  isMaskedByCamera(cameraId: string): boolean;
  /** Refuses new frames, lets in-flight writes finish, writes pending violation counts. */
  drain(): Promise<void>;
}

export interface CaptureDeps {
  db: Db;
  settings: CaptureSettings;
  keys: AgentKeys;
  blobs: BlobStore;
  images: ImageRecords;
  notices: Pick<NoticeRegister, 'currentFor'>;
  pias: Pick<PiaRegister, 'currentFor'>;
  audit: AuditLog;
  outbox: Outbox;
  violations: ViolationReporter;
  clock: Clock;
  ids: Ids;
  log: Logger;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export function createCaptureService(d: CaptureDeps): CaptureService {
  const { settings: s } = d;
  const cameras = new Map(s.cameras.map((c) => [c.id, c]));
  const counters: CaptureCounters = { stored: 0, blocked: {}, rejected: {} };
  const inflight = new Set<Promise<unknown>>();
  const terms = purposeTerms(s.legalBasis);
  let draining = false;
  const maskedByCamera = new Set<string>();

  const snapshot = (cameraId: string, now: Date) => ({
    camera: cameras.get(cameraId),
    notice: d.notices.currentFor(cameraId, now),
    pia: cameras.get(cameraId)?.faceRecognition ? d.pias.currentFor(cameraId, now) : undefined,
    practice: { handler: s.handler, purpose: 'public-safety' as const, retentionDays: s.retentionDays },
  });

  // The notice is checked again inside the write transaction: one withdrawn or expired while the
  // file was being written (even by the CLI in another process) means nothing is kept (PIPL Art. 26).
  const commit = d.db.transaction((record: Parameters<ImageRecords['insert']>[0]): boolean => {
    if (d.notices.currentFor(record.cameraId, new Date(record.storedAt))?.id !== record.noticeId) return false;
    d.images.insert(record);
    d.audit.append({
      actor: 'agent',
      action: 'image.store',
      object: `image:${record.id}`,
      decision: 'done',
      rule: 'purpose.public-safety',
      detail: { camera: record.cameraId, notice: record.noticeId, sha256: record.originalSha256 },
    });
    d.outbox.add('image-stored', {
      image: record.id,
      camera: record.cameraId,
      notice: record.noticeId,
      capturedAt: record.capturedAt,
      purpose: 'public-safety',
      retainUntil: record.retainUntil,
    });
    return true;
  });

  function blocked(cameraId: string, reason: string, rule: string, citation: string, message: string): IngestResult {
    counters.blocked[reason] = (counters.blocked[reason] ?? 0) + 1;
    d.violations.report({ kind: 'capture-blocked', camera: cameraId, reason, rule, citation, message });
    return { status: 'blocked', reason, rule, citation, message };
  }

  function rejected(cameraId: string, error: CamwardenError): IngestResult {
    const reason = String((error.details as { reason?: string } | undefined)?.reason ?? error.code);
    counters.rejected[reason] = (counters.rejected[reason] ?? 0) + 1;
    d.violations.report({ kind: 'capture-rejected', camera: cameraId, reason, rule: error.code, citation: '', message: error.message });
    return { status: 'rejected', reason, code: error.code, message: error.message };
  }

  async function ingestOnce(cameraId: string, bytes: Buffer): Promise<IngestResult> {
    const now = d.clock.now();
    const decision = decideCaptureSafely(cameraId, () => snapshot(cameraId, now), s.rules, now);
    if (!decision.allow) return blocked(cameraId, decision.reason, decision.rule, decision.citation, decision.message);

    let info;
    try {
      info = walkJpeg(bytes, s.limits);
    } catch (error) {
      if (isCamwardenError(error)) return rejected(cameraId, error);
      throw error;
    }
    // DESIGN: a mask the camera cannot apply is burnt in before anything is stored, and the masked
    // image is the original as far as the agent is concerned (hash, tag, storage).
    const masks = s.masks?.get(cameraId);
    if (masks && masks.length > 0 && !maskedByCamera.has(cameraId)) {
      try {
        bytes = await burnInMasks(bytes, masks);
        info = walkJpeg(bytes, s.limits);
      } catch (error) {
        if (isCamwardenError(error)) return rejected(cameraId, error);
        throw error;
      }
    }
    const id = d.ids.next();
    const fields: TagFields = {
      imageId: id,
      purpose: 'public-safety',
      dpvPurpose: 'https://w3id.org/dpv#ProtectionOfPublicSecurity',
      legalBasis: s.legalBasis,
      legalBasisText: terms.legalBasisText,
      camera: cameraId,
      notice: decision.notice.id,
      agent: s.agentId,
      site: s.siteId,
      capturedAt: now.toISOString(),
      originalSha256: sha256(bytes),
      keyId: d.keys.keyId,
      usageTermsZh: terms.zh,
      usageTermsEn: terms.en,
    };
    let tagged: Buffer[];
    try {
      tagged = signAndTagJpegParts(bytes, info, fields, d.keys.signingKey);
    } catch (error) {
      if (isCamwardenError(error)) return rejected(cameraId, error);
      throw error;
    }
    const blobFile = await d.blobs.write(id, tagged);

    const after = d.clock.now();
    let kept: boolean;
    try {
      kept = commit.immediate({
        id,
        cameraId,
        noticeId: decision.notice.id,
        piaId: decision.pia?.id ?? null,
        capturedAt: fields.capturedAt,
        storedAt: after.toISOString(),
        purpose: 'public-safety',
        originalSha256: fields.originalSha256,
        bytes: tagged.reduce((n, p) => n + p.length, 0),
        width: info.width,
        height: info.height,
        retainUntil: addDays(now, s.retentionDays).toISOString(),
        legalHold: false,
        holdReason: null,
        blobFile,
      });
    } catch (error) {
      d.blobs.remove(blobFile);
      throw error;
    }
    if (!kept) {
      d.blobs.remove(blobFile);
      return blocked(cameraId, 'no-notice', 'notice.required', s.rules.citations['notice'] ?? 'PIPL Art. 26', `notice ${decision.notice.id} ended while the frame was being stored`);
    }
    counters.stored += 1;
    return { status: 'stored', imageId: id, bytes: tagged.reduce((n, p) => n + p.length, 0), width: info.width, height: info.height, noticeId: decision.notice.id };
  }

  return {
    gate(cameraId) {
      const now = d.clock.now();
      return decideCaptureSafely(cameraId, () => snapshot(cameraId, now), s.rules, now);
    },
    async ingest(cameraId, bytes) {
      if (draining) throw new CamwardenError('conflict', 'the agent is stopping; frame refused');
      const p = ingestOnce(cameraId, bytes);
      inflight.add(p);
      try {
        return await p;
      } finally {
        inflight.delete(p);
      }
    },
    counters: () => structuredClone(counters),
    setMaskedByCamera(cameraId, byCamera) {
      if (byCamera) maskedByCamera.add(cameraId);
      else maskedByCamera.delete(cameraId);
    },
    isMaskedByCamera: (cameraId) => maskedByCamera.has(cameraId),
    async drain() {
      draining = true;
      await Promise.allSettled([...inflight]);
      d.violations.flush(true);
    },
  };
}
