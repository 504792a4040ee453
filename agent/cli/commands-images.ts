import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import type { AgentServices } from '../agent.js';
import { CamwardenError } from '../errors.js';
import { exportImage } from '../purpose/export-image.js';
import { setLegalHold } from '../retention/legal-hold.js';
import { cliActor, info, printJson, printTable } from './output.js';

type WithServices = <T>(fn: (s: AgentServices) => T | Promise<T>) => Promise<T>;

/** A progress bar on a terminal, silence in pipes. */
function progress(label: string): { update(done: number, total: number): void; stop(): void } {
  if (!process.stderr.isTTY) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar({ format: `${label} [{bar}] {value}/{total} {percentage}% eta {eta}s`, stream: process.stderr }, cliProgress.Presets.shades_classic);
  let started = false;
  return {
    update(done, total) {
      if (!started) {
        bar.start(total, done);
        started = true;
      } else bar.update(done);
    },
    stop: () => started && bar.stop(),
  };
}

export function registerImageCommands(program: Command, withServices: WithServices): void {
  program
    .command('ingest')
    .description('push JPEG files through the capture path (notice gate, tag, encrypt, store)')
    .requiredOption('--camera <id>', 'camera id from the config')
    .argument('<files...>', 'JPEG files')
    .action((files: string[], o: { camera: string }) =>
      withServices(async (s) => {
        let failed = 0;
        for (const f of files) {
          let bytes: Buffer;
          try {
            bytes = readFileSync(f);
          } catch (error) {
            throw new CamwardenError('input.invalid', `cannot read ${f}: ${(error as NodeJS.ErrnoException).code ?? error}`, { field: 'files' });
          }
          const r = await s.capture.ingest(o.camera, bytes, { source: 'cli' });
          if (r.status === 'stored') process.stdout.write(`${f}\tstored\t${r.imageId}\n`);
          else {
            failed += 1;
            process.stdout.write(`${f}\t${r.status}\t${r.reason}\t${r.message}\n`);
          }
        }
        await s.capture.drain();
        if (failed > 0) process.exitCode = files.length === failed ? 65 : 1;
      }),
    );

  const images = program.command('images').description('stored images');
  images
    .command('list')
    .option('--camera <id>')
    .option('--from <iso>')
    .option('--to <iso>')
    .option('--limit <n>', 'at most', '100')
    .option('--json', 'print JSON')
    .action((o: { camera?: string; from?: string; to?: string; limit: string; json?: boolean }) =>
      withServices((s) => {
        const limit = Number(o.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new CamwardenError('usage', '--limit must be 1..100000', { field: 'limit' });
        for (const [k, v] of [['from', o.from], ['to', o.to]] as const) {
          if (v !== undefined && Number.isNaN(Date.parse(v))) throw new CamwardenError('usage', `--${k} must be an ISO date-time`, { field: k });
        }
        const list = s.images.list({ camera: o.camera, from: o.from && new Date(o.from).toISOString(), to: o.to && new Date(o.to).toISOString(), limit });
        if (o.json) printJson(list);
        else printTable(list.map((r) => ({ ...r, hold: r.legalHold ? 'hold' : '' })), ['id', 'cameraId', 'capturedAt', 'bytes', 'width', 'height', 'retainUntil', 'hold']);
      }),
    );
  images.command('show <id>').action((id: string) => withServices((s) => printJson(s.images.get(id))));
  images
    .command('export <id>')
    .description('export an image for a purpose: public safety writes the tagged JPEG; other purposes need consent')
    .requiredOption('-o, --out <file>', 'where to write the JPEG')
    .option('--purpose <purpose>', 'purpose of the use', 'public-safety')
    .option('--basis <ref>', 'legal basis reference, e.g. a police case number')
    .action((id: string, o: { out: string; purpose: string; basis?: string }) =>
      withServices((s) => {
        const { bytes } = exportImage(
          { images: s.images, blobs: s.blobs, audit: s.audit, citations: s.profile.citations },
          { imageId: id, purpose: o.purpose, legalBasisRef: o.basis, actor: cliActor(), role: 'security' },
        );
        writeFileSync(o.out, bytes, { mode: 0o600 });
        info(`image ${id} written to ${o.out} (${bytes.length} bytes, tagged public-safety)`);
      }),
    );
  for (const [name, hold] of [['hold', true], ['release', false]] as const) {
    images
      .command(`${name} <id>`)
      .description(hold ? 'legal hold: keep past retention (an open case)' : 'release a legal hold')
      .option('--reason <text>', 'why (required for hold)')
      .action((id: string, o: { reason?: string }) =>
        withServices((s) => {
          setLegalHold(s, { imageId: id, hold, reason: o.reason, actor: cliActor() });
          info(`image ${id} ${hold ? 'on legal hold' : 'released'}`);
        }),
      );
  }

  program
    .command('purge')
    .description('retention: delete expired images (file and row), respecting legal hold')
    .option('--dry-run', 'only count')
    .action((o: { dryRun?: boolean }) =>
      withServices((s) => {
        const bar = progress('purging');
        const r = s.purge.purge({ dryRun: o.dryRun ?? false, actor: cliActor(), onProgress: (d, t) => t > 0 && bar.update(d, t) });
        bar.stop();
        printJson(r);
      }),
    );

  const audit = program.command('audit').description('the hash-chained audit log');
  audit
    .command('verify')
    .description('verify the chain end to end; names the first broken entry')
    .action(() =>
      withServices((s) => {
        const bar = progress('verifying');
        const r = s.audit.verify((d, t) => bar.update(d, t));
        bar.stop();
        if (r.ok) process.stdout.write(`audit chain intact: ${r.entries} entries\n`);
        else {
          process.stdout.write(`audit chain BROKEN at entry ${r.firstBroken!.seq} (${r.firstBroken!.reason}); ${r.entries} entries before it are intact\n`);
          process.exitCode = 1;
        }
      }),
    );
  audit
    .command('tail')
    .option('-n, --lines <n>', 'how many', '20')
    .option('--json', 'print JSON')
    .action((o: { lines: string; json?: boolean }) =>
      withServices((s) => {
        const n = Number(o.lines);
        if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new CamwardenError('usage', '--lines must be 1..100000', { field: 'lines' });
        const rows = s.audit.tail(n);
        if (o.json) printJson(rows);
        else printTable(rows as unknown as Record<string, unknown>[], ['seq', 'ts', 'actor', 'action', 'object', 'decision', 'rule']);
      }),
    );
}
