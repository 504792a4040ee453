import { PURPOSES } from '../config/jurisdictions.js';
import type { Role } from '../config/schema.js';

/**
 * The use decision: pure, fail-closed. Public safety by an authorised role with a legal basis
 * reference is permitted (PIPL Art. 26); every other purpose needs the person's separate consent
 * for exactly that purpose (PIPL Art. 26; Suzhou; Shenzhen Art. 18-19). Until the consent ledger
 * answers for a subject, no other purpose is permitted.
 */
export interface UseRequest {
  purpose: string;
  role: Role;
  /** e.g. a police case number: the basis of a public-safety use. */
  legalBasisRef?: string;
  /** Subjects' consents for this purpose, as established by the consent ledger. */
  consentFor?: (purpose: string) => boolean;
}

export type UseDecision = { permit: boolean; rule: string; citation: string; reason: string };

const PUBLIC_SAFETY_ROLES: readonly Role[] = ['security'];

export function decideUse(req: UseRequest, citations: Readonly<Record<string, string>>): UseDecision {
  const limit = citations['purposeLimitation'] ?? 'PIPL Art. 26';
  const consent = citations['separateConsent'] ?? 'PIPL Art. 26';
  try {
    if (!(PURPOSES as readonly string[]).includes(req.purpose)) {
      return { permit: false, rule: 'purpose.unknown', citation: limit, reason: `unknown purpose ${req.purpose}` };
    }
    if (req.purpose === 'public-safety') {
      if (!PUBLIC_SAFETY_ROLES.includes(req.role)) {
        return { permit: false, rule: 'purpose.role', citation: citations['leastPrivilege'] ?? 'Shenzhen Art. 11(5)', reason: `role ${req.role} may not use images for public safety` };
      }
      if (!req.legalBasisRef || req.legalBasisRef.trim() === '') {
        return { permit: false, rule: 'purpose.basis-missing', citation: limit, reason: 'a public-safety use needs a legal basis reference (e.g. a case number)' };
      }
      return { permit: true, rule: 'purpose.public-safety', citation: limit, reason: 'public safety by an authorised role' };
    }
    if (req.consentFor?.(req.purpose) === true) {
      return { permit: true, rule: 'purpose.consented', citation: consent, reason: `separate consent for ${req.purpose}` };
    }
    return { permit: false, rule: 'purpose.consent-required', citation: consent, reason: `${req.purpose} needs the separate consent of the person concerned` };
  } catch (error) {
    return { permit: false, rule: 'purpose.error', citation: limit, reason: `decision failed closed: ${(error as Error).message}` };
  }
}
