import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const unitPath = resolve('systemd/camwarden-agent.service');
const unit = readFileSync(unitPath, 'utf8');
const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'cw-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The unit as installed, but pointing at this checkout so verify finds the executable. */
function localUnit(text = unit): string {
  const main = join(dir, 'main.js');
  writeFileSync(main, '');
  const file = join(dir, 'camwarden-agent.service');
  writeFileSync(file, text.replace('/usr/bin/node', process.execPath).replace('/opt/camwarden/dist/agent/main.js', main));
  return file;
}

const directives = (key: string) => unit.split('\n').filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));

describe('systemd/camwarden-agent.service', () => {
  it('runs as a dedicated user with its own state directory and credentials for the keys', () => {
    expect(directives('User')).toEqual(['camwarden']);
    expect(directives('StateDirectory')).toEqual(['camwarden']);
    expect(directives('LoadCredential').map((v) => v.split(':')[0])).toEqual(['camwarden-signing.key', 'camwarden-data.key']);
    expect(directives('NoNewPrivileges')).toEqual(['yes']);
    expect(directives('ProtectSystem')).toEqual(['strict']);
    expect(directives('PrivateTmp')).toEqual(['yes']);
    expect(directives('Restart')).toEqual(['on-failure']);
    expect(directives('RestartPreventExitStatus')).toEqual(['78']);
  });

  it('runs node with the V8 sizes the fleet bench measured, the same as npm start', () => {
    const exec = directives('ExecStart')[0]!;
    const flags = exec.split(/\s+/).filter((t) => t.startsWith('--max-'));
    expect(flags).toEqual(['--max-semi-space-size=2', '--max-old-space-size=96']);
    const start = (JSON.parse(readFileSync(resolve('package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts['start']!;
    expect(start).toContain(`node ${flags.join(' ')} dist/agent/main.js run`);
    // The flags take: node starts with them (a typo would make it refuse to start).
    const r = spawnSync(process.execPath, [...flags, '-e', 'process.exit(0)']);
    expect(r.status).toBe(0);
  });

  it.runIf(hasAnalyze)('passes systemd-analyze verify without a single warning', () => {
    const r = spawnSync('systemd-analyze', ['verify', localUnit()], { encoding: 'utf8' });
    expect(r.stderr.trim()).toBe('');
    expect(r.status).toBe(0);
  });

  it.runIf(hasAnalyze)('would fail verify if a directive were misspelled (the check can fail)', () => {
    const r = spawnSync('systemd-analyze', ['verify', localUnit(unit.replace('NoNewPrivileges=yes', 'NoNewPrivilege=yes'))], { encoding: 'utf8' });
    expect(r.stderr).toContain('NoNewPrivilege');
  });

  it.runIf(hasAnalyze)('has an exposure level of 2.5 or better in systemd-analyze security', () => {
    const out = execFileSync('systemd-analyze', ['security', '--offline=true', localUnit()], { encoding: 'utf8' });
    const level = Number(/Overall exposure level for \S+: ([\d.]+)/.exec(out)?.[1]);
    expect(level).toBeLessThanOrEqual(2.5);
  });
});
