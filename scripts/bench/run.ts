/**
 * npm run bench: every figure is printed beside the anchor measured in the same run, never
 * against a number from another machine. Not part of npm test.
 *
 *   npm run bench                      every bench
 *   npm run bench -- ingest            the capture path alone
 *   npm run bench -- fleet --seconds 10 --cameras 8 --rtsp-cameras 0 --runner tsx --keep
 *   npm run bench -- fleet --agent-flags=--max-old-space-size=64
 */
import { parseArgs } from 'node:util';
import { benchFleet, FLEET_DEFAULTS } from './fleet.js';
import { benchIngest } from './ingest.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    cameras: { type: 'string' },
    seconds: { type: 'string' },
    warmup: { type: 'string' },
    'rtsp-cameras': { type: 'string' },
    runner: { type: 'string' },
    'agent-flags': { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});

function count(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer ${min}..${max}`);
  return n;
}
const runner = values.runner ?? FLEET_DEFAULTS.runner;
if (runner !== 'dist' && runner !== 'tsx') throw new Error('--runner must be dist or tsx');
const fleet = {
  cameras: count('cameras', values.cameras, FLEET_DEFAULTS.cameras, 1, 256),
  seconds: count('seconds', values.seconds, FLEET_DEFAULTS.seconds, 1, 3600),
  warmup: count('warmup', values.warmup, FLEET_DEFAULTS.warmup, 0, 600),
  rtspCameras: count('rtsp-cameras', values['rtsp-cameras'], FLEET_DEFAULTS.rtspCameras, 0, 64),
  runner,
  agentFlags: values['agent-flags'] ?? FLEET_DEFAULTS.agentFlags,
  keep: values.keep,
} as const;

const all: Record<string, () => Promise<void>> = { ingest: benchIngest, fleet: () => benchFleet(fleet) };
for (const [name, run] of Object.entries(all)) {
  if (positionals.length > 0 && !positionals.includes(name)) continue;
  await run();
}
