/**
 * Writes config/agent.schema.json from agent/config/schema.ts, the single source of the config
 * shape. `--check` writes nothing and exits 1 when the file on disk differs, so CI fails on
 * drift instead of shipping an editor schema that disagrees with the loader.
 *
 *   npm run schema            regenerate
 *   npm run schema -- --check verify (CI)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderAgentSchemaFile } from '../agent/config/schema.js';

const target = fileURLToPath(new URL('../config/agent.schema.json', import.meta.url));

function current(): string | undefined {
  try {
    return readFileSync(target, 'utf8');
  } catch {
    return undefined;
  }
}

function main(argv: string[]): number {
  const wanted = renderAgentSchemaFile();
  if (argv.includes('--check')) {
    if (current() === wanted) return 0;
    process.stderr.write(`${target} is out of date with agent/config/schema.ts; run \`npm run schema\` and commit it\n`);
    return 1;
  }
  if (current() !== wanted) writeFileSync(target, wanted);
  process.stdout.write(`${target} up to date\n`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
