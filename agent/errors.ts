/**
 * One table: error code -> HTTP status and process exit status (sysexits.h).
 * Tests assert codes, never messages.
 */
export const ERRORS = {
  'usage': { http: 400, exit: 64 },
  'input.invalid': { http: 400, exit: 65 },
  'not-found': { http: 404, exit: 66 },
  'conflict': { http: 409, exit: 65 },
  'config.invalid': { http: 500, exit: 78 },
  'keys.missing': { http: 500, exit: 78 },
  'keys.invalid': { http: 500, exit: 78 },
  'keys.exist': { http: 409, exit: 73 },
  'jpeg.invalid': { http: 422, exit: 65 },
  'jpeg.too-large': { http: 413, exit: 65 },
  'xmp.too-large': { http: 422, exit: 65 },
  'capture.blocked': { http: 403, exit: 77 },
  'camera.unreachable': { http: 502, exit: 69 },
  'camera.timeout': { http: 504, exit: 75 },
  'camera.auth': { http: 502, exit: 77 },
  'camera.protocol': { http: 502, exit: 76 },
  'notice.missing': { http: 403, exit: 77 },
  'notice.incomplete': { http: 422, exit: 65 },
  'notice.evidence-missing': { http: 409, exit: 65 },
  'notice.state': { http: 409, exit: 65 },
  'pia.incomplete': { http: 422, exit: 65 },
  'pia.retained': { http: 409, exit: 77 },
  'purpose.denied': { http: 403, exit: 77 },
  'auth.missing': { http: 401, exit: 77 },
  'auth.forbidden': { http: 403, exit: 77 },
  'store.newer-schema': { http: 500, exit: 78 },
  'store.io': { http: 500, exit: 74 },
  'audit.broken': { http: 500, exit: 1 },
  'internal': { http: 500, exit: 70 },
} as const satisfies Record<string, { http: number; exit: number }>;

export type ErrorCode = keyof typeof ERRORS;

export interface ErrorOptions {
  /** The input field (config path, body property, CLI flag) that was wrong. */
  field?: string;
  details?: unknown;
  cause?: unknown;
}

export class CamwardenError extends Error {
  readonly code: ErrorCode;
  readonly field: string | undefined;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CamwardenError';
    this.code = code;
    this.field = options.field;
    this.details = options.details;
  }

  get httpStatus(): number {
    return ERRORS[this.code].http;
  }

  get exitStatus(): number {
    return ERRORS[this.code].exit;
  }

  toJSON(): { code: ErrorCode; message: string; field?: string } {
    return this.field === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, field: this.field };
  }
}

export function isCamwardenError(error: unknown, code?: ErrorCode): error is CamwardenError {
  return error instanceof CamwardenError && (code === undefined || error.code === code);
}

/** Exit status for anything thrown out of a command. */
export function exitStatusOf(error: unknown): number {
  return error instanceof CamwardenError ? error.exitStatus : ERRORS.internal.exit;
}
