import { CamwardenError } from '../../agent/errors.js';

/** The CamwardenError `fn` throws; fails the test when it throws nothing or something else. */
export function errorOf(fn: () => unknown): CamwardenError {
  try {
    fn();
  } catch (error) {
    if (error instanceof CamwardenError) return error;
    throw error;
  }
  throw new Error('expected a CamwardenError');
}
