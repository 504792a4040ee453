import { CamwardenError } from '../errors.js';
import type { Notice } from './notice-register.js';
import type { SignInput } from './render-sign.js';

/**
 * What a printed sign shows for a notice. A withdrawn notice has no sign: people would trust a
 * notice no longer in force (PIPL Art. 26 requires the notice to be true, not just present).
 */
export function signInputFor(n: Notice, site: { name: string; rightsUrl: string }): SignInput {
  if (n.state === 'withdrawn') throw new CamwardenError('notice.state', `notice ${n.id} is withdrawn; it has no sign`);
  return {
    id: n.id,
    content: n.content,
    rightsUrl: site.rightsUrl,
    cameras: n.cameras,
    verifiedAt: n.verifiedAt,
    expiresAt: n.expiresAt,
    site: { name: site.name },
  };
}
