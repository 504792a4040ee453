/**
 * npm run bench: every figure is printed beside the anchor measured in the same run, never
 * against a number from another machine. Not part of npm test.
 */
import { benchIngest } from './ingest.js';

const which = process.argv.slice(2);
const all: Record<string, () => Promise<void>> = { ingest: benchIngest };
for (const [name, run] of Object.entries(all)) {
  if (which.length > 0 && !which.includes(name)) continue;
  await run();
}
