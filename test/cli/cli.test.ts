import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { spawnSync } from 'node:child_process';
import { runCli, spawnCli } from '../helpers/cli.js';
import { makeAgentEnv, sampleJpeg, verifiedNotice, type AgentEnv } from '../helpers/agent-env.js';
import { makeJpeg } from '../fixtures/jpegs.js';

let env: AgentEnv;
afterEach(() => env?.cleanup());

/** A temp agent whose clock is the real one (the CLI runs in its own process). */
function freshEnv(): AgentEnv {
  env = makeAgentEnv({ start: new Date().toISOString() });
  env.services.close();
  return env;
}

describe('camwarden CLI', () => {
  it('exits 78 naming the path when the config is wrong, and starts nothing', () => {
    const e = freshEnv();
    const bad = join(e.dir, 'bad.yaml');
    writeFileSync(bad, readFileSync(e.configPath, 'utf8').replace('retentionDays: 30', 'retentionDays: thirty'));
    const r = runCli(['--config', bad, 'run']);
    expect(r.status).toBe(78);
    expect(r.stderr).toContain('capture.retentionDays');
    expect(r.stderr).toContain('nothing was started');
    const unknown = join(e.dir, 'unknown.yaml');
    writeFileSync(unknown, `${readFileSync(e.configPath, 'utf8')}\nsurprise: true\n`);
    expect(runCli(['--config', unknown, 'validate-config']).status).toBe(78);
    expect(runCli(['--config', join(e.dir, 'missing.yaml'), 'validate-config']).status).toBe(78);
  });

  it('walks a notice from file to verified, ingests, exports and verifies the image', async () => {
    const e = freshEnv();
    const c = ['--config', e.configPath];
    const noticeFile = join(e.dir, 'notice.yaml');
    const example = readFileSync('config/notice.example.yaml', 'utf8')
      .replaceAll('深圳福田广场物业管理有限公司 Futian Plaza Property Management Co., Ltd.', '测试物业 Test Property Co.');
    writeFileSync(noticeFile, example);
    const add = runCli([...c, 'notice', 'add', '--file', noticeFile]);
    expect(add.status, add.stderr).toBe(0);
    const id = add.stdout.trim();

    const noEvidence = runCli([...c, 'notice', 'verify', id, '--by', 'Inspector Li']);
    expect(noEvidence.status).toBe(65);
    expect(noEvidence.stderr).toContain('notice.evidence-missing');

    const photo = join(e.dir, 'sign.jpg');
    writeFileSync(photo, await sampleJpeg(64, 64));
    expect(runCli([...c, 'notice', 'verify', id, '--by', 'Inspector Li', '--photo', photo]).status).toBe(0);
    // The printable sign in every variant; large print on A4 runs over several pages.
    const render = runCli([...c, 'notice', 'render', id, '--out', join(e.dir, 'signs'), '--dpi', '72']);
    expect(render.status, render.stderr).toBe(0);
    const files = render.stdout.trim().split('\n').map((f) => f.replace(/^.*\//, ''));
    expect(files).toContain(`notice-${id}.txt`);
    expect(files).toContain(`notice-${id}-A4-large-p2.png`);
    expect(files.filter((f) => f.endsWith('.svg')).length).toBe(files.filter((f) => f.endsWith('.png')).length);
    expect(readFileSync(join(e.dir, 'signs', `notice-${id}.txt`), 'utf8')).toContain('https://test-plaza.example/privacy');
    // Face camera: blocked without an assessment; the plain camera stores.
    const frame = join(e.dir, 'frame.jpg');
    writeFileSync(frame, await makeJpeg({ width: 640, height: 480, seed: 3 }));
    const ingest = runCli([...c, 'ingest', '--camera', 'cam-north-gate', frame, frame]);
    expect(ingest.status, ingest.stderr).toBe(0);
    expect(ingest.stdout.match(/\tstored\t/g)).toHaveLength(2);
    const blocked = runCli([...c, 'ingest', '--camera', 'cam-east-lobby', frame]);
    expect(blocked.status).toBe(65);
    expect(blocked.stdout).toContain('no-impact-assessment');

    const list = JSON.parse(runCli([...c, 'images', 'list', '--json']).stdout) as { id: string }[];
    expect(list).toHaveLength(2);
    const out = join(e.dir, 'export.jpg');
    const denied = runCli([...c, 'images', 'export', list[0]!.id, '--out', out, '--purpose', 'marketing']);
    expect(denied.status).toBe(77);
    expect(denied.stderr).toContain('purpose.denied');
    expect(runCli([...c, 'images', 'export', list[0]!.id, '--out', out, '--basis', 'case 2026-17']).status).toBe(0);

    expect(runCli([...c, 'verify-image', out])).toMatchObject({ status: 0, stdout: expect.stringContaining('valid') });
    const tampered = Buffer.from(readFileSync(out));
    tampered[tampered.length - 100] = tampered[tampered.length - 100]! ^ 0x01;
    writeFileSync(join(e.dir, 'tampered.jpg'), tampered);
    expect(runCli([...c, 'verify-image', join(e.dir, 'tampered.jpg')])).toMatchObject({ status: 3, stdout: expect.stringContaining('tampered') });
    expect(runCli([...c, 'verify-image', frame])).toMatchObject({ status: 4, stdout: expect.stringContaining('untagged') });

    expect(runCli([...c, 'audit', 'verify'])).toMatchObject({ status: 0, stdout: expect.stringContaining('intact') });
    const db = new Database(join(e.dir, 'data', 'camwarden.db'));
    db.prepare("UPDATE audit SET object = 'image:forged' WHERE seq = 3").run();
    db.close();
    expect(runCli([...c, 'audit', 'verify'])).toMatchObject({ status: 1, stdout: expect.stringContaining('entry 3') });
  }, 120_000);

  it('rejects a notice file missing Art. 14 content, naming the field and line', () => {
    const e = freshEnv();
    const file = join(e.dir, 'notice.yaml');
    const doc = { cameras: ['cam-north-gate'], terms: { handler: 'x', purpose: 'public-safety', retentionDays: 30, faceRecognition: false }, placement: { location: 'gate' }, text: { zh: { title: 't', handler: 'h' } } };
    writeFileSync(file, stringify(doc));
    const r = runCli(['--config', e.configPath, 'notice', 'add', '--file', file]);
    expect(r.status).toBe(65);
    expect(r.stderr).toMatch(/notice\.yaml:\d+ text\.zh/);
    expect(r.stderr).toContain('retention');
  });

  it.runIf(spawnSync('script', ['--version']).status === 0)('purges with a progress bar on a terminal and quietly in a pipe', async () => {
    // Images captured 40 days ago (the in-process clock), expired for the CLI's real clock.
    env = makeAgentEnv({ start: new Date(Date.now() - 40 * 86_400_000).toISOString() });
    await verifiedNotice(env.services, ['cam-north-gate']);
    for (let i = 0; i < 3; i++) await env.services.capture.ingest('cam-north-gate', await sampleJpeg());
    env.services.close();
    const piped = runCli(['--config', env.configPath, 'purge', '--dry-run']);
    expect(JSON.parse(piped.stdout)).toMatchObject({ images: 3, dryRun: true });
    expect(piped.stderr).not.toContain('purging');
    const cmd = [process.execPath, '--import', 'tsx', 'agent/main.ts', '--config', env.configPath, 'purge'].map((a) => `'${a}'`).join(' ');
    const tty = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', env: { ...process.env, CREDENTIALS_DIRECTORY: '' }, timeout: 60_000 });
    expect(tty.status).toBe(0);
    expect(tty.stdout).toMatch(/purging \[.*\] 3\/3 100%/);
    expect(runCli(['--config', env.configPath, 'images', 'list', '--json']).stdout.trim()).toBe('[]');
  }, 60_000);

  it('runs the agent: JSON logs, health on the local port, clean exit on SIGTERM', async () => {
    const e = freshEnv();
    const child = spawnCli(['--config', e.configPath, 'run']);
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    const address = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no start: ${out}`)), 30_000);
      child.stdout!.on('data', () => {
        const line = out.split('\n').find((l) => l.includes('camwarden agent running'));
        if (line) {
          clearTimeout(t);
          resolve((JSON.parse(line) as { address: string }).address);
        }
      });
    });
    const health = await (await fetch(`${address}/v1/health`)).json();
    expect(health).toMatchObject({ status: 'ok', agent: 'gw-test-01' });
    child.kill('SIGTERM');
    const code = await new Promise((r) => child.once('exit', r));
    expect(code).toBe(0);
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as { level: string; msg: string });
    expect(lines.map((l) => l.msg)).toContain('stopped');
  }, 60_000);
});
