import { CamwardenError } from '../errors.js';

/**
 * What a sign says, in one language. Every field is required by Shenzhen Art. 14
 * (handler and contact; data types; purpose and method; retention; security risks and
 * protections; rights and how to exercise them). The two face fields are required when the
 * covered cameras run face recognition (Shenzhen Art. 14 sensitive data; Measures Art. 5).
 */
export interface NoticeText {
  title: string;
  handler: string;
  contact: string;
  dataTypes: string;
  purpose: string;
  method: string;
  retention: string;
  security: string;
  rights: string;
  howToExercise: string;
  faceNecessity?: string;
  faceImpact?: string;
}

/** The machine-checkable promises of a sign: compared with the config at every capture. */
export interface NoticeTerms {
  handler: string;
  purpose: 'public-safety';
  retentionDays: number;
  faceRecognition: boolean;
}

export interface NoticePlacement {
  /** Where the sign hangs, in words. */
  location: string;
  /** Distance from the edge of the camera's field of view, metres. */
  distanceMeters?: number;
}

export interface NoticeContent {
  terms: NoticeTerms;
  text: { zh: NoticeText; en?: NoticeText };
  placement: NoticePlacement;
}

export const REQUIRED_TEXT_FIELDS = [
  'title',
  'handler',
  'contact',
  'dataTypes',
  'purpose',
  'method',
  'retention',
  'security',
  'rights',
  'howToExercise',
] as const satisfies readonly (keyof NoticeText)[];

export const FACE_TEXT_FIELDS = ['faceNecessity', 'faceImpact'] as const satisfies readonly (keyof NoticeText)[];

/**
 * Checks that a notice says everything Shenzhen Art. 14 requires. Lists every missing
 * field at once (path like `text.zh.retention`).
 */
export function checkNoticeContent(content: NoticeContent): void {
  const missing: string[] = [];
  const languages = Object.entries(content.text).filter(([, t]) => t !== undefined) as [string, NoticeText][];
  for (const [lang, text] of languages) {
    for (const field of REQUIRED_TEXT_FIELDS) {
      if (typeof text[field] !== 'string' || text[field].trim() === '') missing.push(`text.${lang}.${field}`);
    }
    if (content.terms.faceRecognition) {
      for (const field of FACE_TEXT_FIELDS) {
        const v = text[field];
        if (typeof v !== 'string' || v.trim() === '') missing.push(`text.${lang}.${field}`);
      }
    }
  }
  if (content.terms.handler.trim() === '') missing.push('terms.handler');
  if (!Number.isInteger(content.terms.retentionDays) || content.terms.retentionDays < 1) missing.push('terms.retentionDays');
  if (content.placement.location.trim() === '') missing.push('placement.location');
  if (missing.length > 0) {
    throw new CamwardenError(
      'notice.incomplete',
      `notice is missing content required by Shenzhen Art. 14: ${missing.join(', ')}`,
      { field: missing[0], details: { missing } },
    );
  }
}
