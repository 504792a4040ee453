import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { CamwardenError } from '../errors.js';

/**
 * A camera's password lives in a file of its own (mode 0600, or a systemd credential): its first
 * line, exactly, without the line break. Spaces are kept: they may be part of the password.
 * The error is config.invalid for a file named by the config, input.invalid for one named on the
 * command line.
 */
type Code = 'config.invalid' | 'input.invalid';

export function passwordFromText(text: string, field: string, code: Code = 'config.invalid'): string {
  const first = text.split(/\r?\n/, 1)[0] ?? '';
  if (first === '') throw new CamwardenError(code, 'the camera password file is empty', { field, details: { reason: 'password-file' } });
  return first;
}

function unreadable(error: unknown, field: string, code: Code): CamwardenError {
  const why = (error as NodeJS.ErrnoException).code ?? 'io';
  return new CamwardenError(code, `cannot read the camera password file (${why})`, { field, details: { reason: 'password-file' }, cause: error });
}

export function readPasswordFileSync(file: string, field: string, code: Code = 'config.invalid'): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw unreadable(error, field, code);
  }
  return passwordFromText(text, field, code);
}

export async function readPasswordFile(file: string, field: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw unreadable(error, field, 'config.invalid');
  }
  return passwordFromText(text, field);
}
