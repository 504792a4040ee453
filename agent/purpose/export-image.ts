import { createHash } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.js';
import type { ImageRecords } from '../capture/image-records.js';
import type { Role } from '../config/schema.js';
import { CamwardenError } from '../errors.js';
import type { BlobStore } from '../store/blob-store.js';
import { decideUse } from './decide-use.js';

export interface ExportRequest {
  imageId: string;
  purpose: string;
  legalBasisRef?: string;
  actor: string;
  role: Role;
}

/**
 * Every use of an image is a decision, audited either way. A permitted public-safety export
 * returns the tagged JPEG exactly as stored (purpose tag and signature inside).
 */
export function exportImage(
  d: { images: ImageRecords; blobs: BlobStore; audit: AuditLog; citations: Readonly<Record<string, string>> },
  req: ExportRequest,
): { bytes: Buffer; record: ReturnType<ImageRecords['get']> } {
  const record = d.images.get(req.imageId);
  const decision = decideUse({ purpose: req.purpose, role: req.role, legalBasisRef: req.legalBasisRef }, d.citations);
  // Read before the entry is written, so a permitted export records the hash of exactly what leaves.
  const bytes = decision.permit ? d.blobs.read(record.blobFile) : undefined;
  d.audit.append({
    actor: req.actor,
    action: 'image.export',
    object: `image:${record.id}`,
    decision: decision.permit ? 'permit' : 'deny',
    rule: decision.rule,
    detail: {
      purpose: req.purpose,
      role: req.role,
      basis: req.legalBasisRef ?? null,
      citation: decision.citation,
      sha256: bytes ? createHash('sha256').update(bytes).digest('hex') : null,
    },
  });
  if (!decision.permit) {
    throw new CamwardenError('purpose.denied', `${decision.reason} (${decision.rule}, ${decision.citation})`, {
      field: 'purpose',
      details: { rule: decision.rule, citation: decision.citation },
    });
  }
  return { bytes: bytes!, record };
}
