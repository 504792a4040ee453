#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { buildServices, createAgent, type AgentServices } from './agent.js';
import { registerAdminCommands } from './cli/commands-admin.js';
import { registerCameraCommands } from './cli/commands-cameras.js';
import { registerImageCommands } from './cli/commands-images.js';
import { registerNoticeCommands } from './cli/commands-notice.js';
import { CamwardenError, exitStatusOf, isCamwardenError } from './errors.js';
import { createLogger } from './log.js';

/** The process: argv, config, the agent or one command, signals, exit statuses. */
const program = new Command('camwarden')
  .description('camwarden: no notice, no capture; every image carries its purpose')
  .option('-c, --config <file>', 'agent config', process.env['CAMWARDEN_CONFIG'] ?? '/etc/camwarden/agent.yaml')
  .exitOverride()
  .showSuggestionAfterError();

const configPath = (): string => program.opts<{ config: string }>().config;

/** Opens every service for one command and closes the database after it, whatever happens. */
async function withServices<T>(fn: (s: AgentServices) => T | Promise<T>): Promise<T> {
  const s = buildServices({ configPath: configPath(), log: createLogger('warn', process.stderr) });
  try {
    return await fn(s);
  } finally {
    s.close();
  }
}

program
  .command('run')
  .description('run the agent: capture gate, retention schedule, local HTTP API')
  .action(async () => {
    const services = buildServices({ configPath: configPath() });
    const log = services.log;
    const agent = createAgent(services);
    const controller = new AbortController();
    let stopping: Promise<void> | undefined;
    const stop = (signal: string) => {
      stopping ??= (async () => {
        log.info({ signal }, 'stopping');
        controller.abort();
        const failures = await agent.stop();
        log.info({ failures }, 'stopped');
        log.flush();
        process.exitCode = failures > 0 ? 1 : 0;
      })();
      return stopping;
    };
    process.once('SIGTERM', () => void stop('SIGTERM'));
    process.once('SIGINT', () => void stop('SIGINT'));
    try {
      await agent.start(controller.signal);
    } catch (error) {
      await agent.stop();
      throw error;
    }
    log.info({ agent: services.config.agent.id, address: agent.address() }, 'camwarden agent running');
    await new Promise<void>((resolve) => controller.signal.addEventListener('abort', () => resolve(), { once: true }));
    await stopping;
  });

registerNoticeCommands(program, withServices);
registerImageCommands(program, withServices);
registerAdminCommands(program, withServices, configPath);
registerCameraCommands(program, withServices, configPath);

function report(error: unknown): number {
  if (error instanceof CommanderError) {
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return 0;
    return 64;
  }
  if (isCamwardenError(error)) {
    process.stderr.write(`camwarden: ${error.code}: ${error.message}\n`);
    if (error.code === 'config.invalid') process.stderr.write('camwarden: nothing was started\n');
  } else {
    process.stderr.write(`camwarden: internal error: ${(error as Error)?.stack ?? String(error)}\n`);
  }
  return exitStatusOf(error);
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.exitCode = report(error instanceof CamwardenError || error instanceof CommanderError ? error : error);
}
