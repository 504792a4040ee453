import type { AuditLog } from '../audit/audit-log.js';
import type { ImageRecords } from '../capture/image-records.js';
import { CamwardenError } from '../errors.js';
import type { Db } from '../store/open-database.js';

/**
 * Puts an image on legal hold or releases it. A hold keeps an image past its retention
 * (Shenzhen Art. 25), so it needs a reason and stands or falls with its audit entry (Art. 75).
 */
export function setLegalHold(
  d: { db: Db; images: ImageRecords; audit: AuditLog },
  req: { imageId: string; hold: boolean; reason?: string; actor: string },
): void {
  const reason = req.reason?.trim();
  if (req.hold && !reason) {
    throw new CamwardenError('input.invalid', 'a legal hold needs a reason (e.g. the case it is kept for)', { field: 'reason' });
  }
  d.db
    .transaction(() => {
      d.images.setHold(req.imageId, req.hold, req.hold ? reason! : null);
      d.audit.append({
        actor: req.actor,
        action: req.hold ? 'image.hold' : 'image.release',
        object: `image:${req.imageId}`,
        decision: 'done',
        rule: 'retention.legal-hold',
        detail: { reason: reason ?? null },
      });
    })
    .immediate();
}
