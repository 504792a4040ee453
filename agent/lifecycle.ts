import type { Logger } from './log.js';

/** A long-running part of the agent. start() does the I/O; constructors never do. */
export interface Service {
  name: string;
  start(signal: AbortSignal): Promise<void> | void;
  stop(): Promise<void> | void;
}

export interface Lifecycle {
  start(signal: AbortSignal): Promise<void>;
  /** Stops started services in reverse order, each on its own; returns how many failed. */
  stop(): Promise<number>;
}

export function createLifecycle(services: Service[], log: Logger): Lifecycle {
  const started: Service[] = [];
  return {
    async start(signal) {
      for (const s of services) {
        if (signal.aborted) break;
        log.debug({ service: s.name }, 'starting');
        await s.start(signal);
        started.push(s);
      }
    },
    async stop() {
      let failures = 0;
      while (started.length > 0) {
        const s = started.pop()!;
        try {
          await s.stop();
          log.debug({ service: s.name }, 'stopped');
        } catch (error) {
          failures += 1;
          log.error({ service: s.name, err: error }, 'stop failed');
        }
      }
      return failures;
    },
  };
}
