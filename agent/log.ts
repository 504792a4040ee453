import { pino, type Logger as PinoLogger, type LevelWithSilent } from 'pino';

/**
 * JSON-line logs on stdout (journald keeps them). No personal data in any line: ids, counts,
 * reasons and codes only.
 */
export type Logger = PinoLogger;

export function createLogger(level: LevelWithSilent = 'info', destination?: NodeJS.WritableStream): Logger {
  return pino(
    { level, base: { service: 'camwarden-agent' }, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } },
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

export const silentLogger: Logger = pino({ level: 'silent' });
