import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { CamwardenError } from '../errors.js';
import { renderSignPages, renderSignText, svgToPng } from '../notices/render-sign.js';
import { signInputFor } from '../notices/sign-input.js';
import type { Notice } from '../notices/notice-register.js';
import { NoticeInputSchema, PiaInputSchema, type NoticeInput, type PiaInput } from '../notices/notice-schema.js';
import type { AgentServices } from '../agent.js';
import { readInputFile } from './input-file.js';
import { cliActor, info, printJson, printTable } from './output.js';

type WithServices = <T>(fn: (s: AgentServices) => T | Promise<T>) => Promise<T>;

function readPhoto(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new CamwardenError('input.invalid', `cannot read photo ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`, { field: 'photo' });
  }
}

const noticeRow = (n: Notice) => ({
  id: n.id,
  state: n.state,
  cameras: n.cameras.join(','),
  verifiedBy: n.verifiedBy ?? '',
  expiresAt: n.expiresAt ?? '',
  title: n.content.text.zh.title,
});

export function registerNoticeCommands(program: Command, withServices: WithServices): void {
  const notice = program.command('notice').description('signs: register, evidence, verify, withdraw, render');

  notice
    .command('add')
    .description('register a notice (draft) from a YAML file with the full Shenzhen Art. 14 content')
    .requiredOption('-f, --file <file>', 'notice YAML (see config/notice.example.yaml)')
    .option('--json', 'print JSON')
    .action((o: { file: string; json?: boolean }) =>
      withServices((s) => {
        const input = readInputFile<NoticeInput>(o.file, NoticeInputSchema);
        const { cameras, ...content } = input;
        const n = s.notices.add({ content, cameras }, cliActor());
        if (o.json) printJson(n);
        else info(`notice ${n.id} registered as draft for ${n.cameras.join(', ')}; attach the sign's photo and verify it`);
        process.stdout.write(o.json ? '' : `${n.id}\n`);
      }),
    );

  notice
    .command('evidence <id> <photo>')
    .description('attach the photo of the installed sign (its SHA-256 and time are kept)')
    .action((id: string, photo: string) =>
      withServices(async (s) => {
        const n = await s.notices.attachEvidence(id, readPhoto(photo), cliActor());
        info(`evidence ${n.evidence?.sha256} attached to notice ${n.id}`);
      }),
    );

  notice
    .command('verify <id>')
    .description('verify a notice in place: a named person, with the photo of the installed sign')
    .requiredOption('--by <name>', 'the person who checked the sign in place')
    .option('--photo <file>', 'attach this photo first')
    .action((id: string, o: { by: string; photo?: string }) =>
      withServices(async (s) => {
        if (o.photo) await s.notices.attachEvidence(id, readPhoto(o.photo), cliActor());
        const n = s.notices.verify(id, o.by, cliActor());
        info(`notice ${n.id} verified; re-verify before ${n.expiresAt}`);
      }),
    );

  notice
    .command('withdraw <id>')
    .description('withdraw a notice; cameras it alone covered stop capturing at once')
    .requiredOption('--reason <text>', 'why')
    .action((id: string, o: { reason: string }) =>
      withServices((s) => {
        const n = s.notices.withdraw(id, o.reason, cliActor());
        info(`notice ${n.id} withdrawn`);
      }),
    );

  notice
    .command('show <id>')
    .option('--json', 'print JSON')
    .action((id: string) => withServices((s) => printJson(s.notices.get(id))));

  notice
    .command('list')
    .option('--camera <id>', 'only notices covering this camera')
    .option('--state <state>', 'draft | verified | expired | withdrawn')
    .option('--json', 'print JSON')
    .action((o: { camera?: string; state?: Notice['state']; json?: boolean }) =>
      withServices((s) => {
        const list = s.notices.list({ camera: o.camera, state: o.state });
        if (o.json) printJson(list);
        else printTable(list.map(noticeRow), ['id', 'state', 'cameras', 'verifiedBy', 'expiresAt', 'title']);
      }),
    );

  notice
    .command('render <id>')
    .description('the printable sign: SVG and PNG at A4 and A3, large print, and plain text')
    .option('-o, --out <dir>', 'output folder', '.')
    .option('--dpi <n>', 'PNG resolution', '150')
    .action((id: string, o: { out: string; dpi: string }) =>
      withServices(async (s) => {
        const n = s.notices.get(id);
        const input = signInputFor(n, s.config.site);
        const dir = resolve(o.out);
        mkdirSync(dir, { recursive: true });
        const dpi = Number(o.dpi);
        if (!Number.isInteger(dpi) || dpi < 72 || dpi > 600) throw new CamwardenError('usage', '--dpi must be an integer 72..600', { field: 'dpi' });
        const written: string[] = [];
        for (const paper of ['A4', 'A3'] as const) {
          for (const largePrint of [false, true]) {
            // A sign too long for one sheet continues on more, each with the QR code (Measures Art. 5).
            const pages = await renderSignPages(input, { paper, largePrint });
            for (const [i, svg] of pages.entries()) {
              const base = join(dir, `notice-${n.id}-${paper}${largePrint ? '-large' : ''}${pages.length > 1 ? `-p${i + 1}` : ''}`);
              writeFileSync(`${base}.svg`, svg);
              writeFileSync(`${base}.png`, await svgToPng(svg, paper, dpi));
              written.push(`${base}.svg`, `${base}.png`);
            }
          }
        }
        const txt = join(dir, `notice-${n.id}.txt`);
        writeFileSync(txt, renderSignText(input));
        written.push(txt);
        process.stdout.write(`${written.join('\n')}\n`);
      }),
    );

  const pia = program.command('pia').description('impact assessments for face processing (Measures Art. 9)');
  pia
    .command('add')
    .requiredOption('-f, --file <file>', 'assessment YAML (see config/pia.example.yaml)')
    .action((o: { file: string }) =>
      withServices((s) => {
        const input = readInputFile<PiaInput>(o.file, PiaInputSchema);
        const p = s.pias.add(input, cliActor());
        info(`assessment ${p.subject} v${p.version} recorded; review by ${p.reviewBy}; kept until ${p.retainUntil}`);
        process.stdout.write(`${p.id}\n`);
      }),
    );
  pia.command('show <id>').action((id: string) => withServices((s) => printJson(s.pias.get(id))));
  pia
    .command('list')
    .option('--json', 'print JSON')
    .action((o: { json?: boolean }) =>
      withServices((s) => {
        const list = s.pias.list();
        if (o.json) printJson(list);
        else printTable(list.map((p) => ({ ...p, cameras: p.cameras.join(','), current: p.current ? 'yes' : 'no' })), ['id', 'subject', 'version', 'current', 'cameras', 'reviewBy', 'retainUntil']);
      }),
    );
}
