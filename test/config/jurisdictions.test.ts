import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ConfigProblem } from '../../agent/config/load-config.js';
import {
  CITATION_KEYS,
  defaultJurisdictionsDir,
  listJurisdictions,
  loadJurisdiction,
  packageRoot,
  PURPOSES,
} from '../../agent/config/jurisdictions.js';
import { isCamwardenError } from '../../agent/errors.js';

const SHIPPED = fileURLToPath(new URL('../../config/jurisdictions/', import.meta.url));

function problemsOf(fn: () => unknown): ConfigProblem[] {
  try {
    fn();
  } catch (error) {
    expect(isCamwardenError(error, 'config.invalid')).toBe(true);
    return (error as { details: { problems: ConfigProblem[] } }).details.problems;
  }
  throw new Error('expected config.invalid');
}

describe('shipped profiles', () => {
  it('finds config/jurisdictions from the package root', () => {
    expect(defaultJurisdictionsDir()).toBe(join(packageRoot(), 'config', 'jurisdictions'));
    expect(join(defaultJurisdictionsDir(), '/')).toBe(SHIPPED);
  });

  it('ships the baseline and the three cities', () => {
    expect(listJurisdictions()).toEqual(['cn-pipl', 'cn-shenzhen', 'cn-suzhou', 'cn-tianjin']);
  });

  it.each(listJurisdictions(SHIPPED))('%s loads complete, with unique rule ids', (id) => {
    const profile = loadJurisdiction(id);
    expect(profile.id).toBe(id);
    expect(Object.keys(profile.parameters.maxRetentionDays).sort()).toEqual([...PURPOSES].sort());
    expect(Object.keys(profile.citations).sort()).toEqual([...CITATION_KEYS].sort());
    const ids = profile.rules.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(Object.isFrozen(profile.parameters.forbiddenLocationClasses)).toBe(true);
  });

  it('keeps the baseline numbers the law sets', () => {
    const p = loadJurisdiction('cn-pipl').parameters;
    expect(p.piaRetentionYears).toBe(3); // Measures Art. 9
    expect(p.faceFilingThreshold).toBe(100_000); // Measures Art. 15
    expect(p.forbiddenLocationClasses).toEqual(expect.arrayContaining(['hotel-room', 'toilet', 'changing-room'])); // Art. 13
  });

  it('merges extends: Shenzhen overrides numbers and citations and adds rules', () => {
    const base = loadJurisdiction('cn-pipl');
    const sz = loadJurisdiction('cn-shenzhen');
    expect(sz.extends).toBe('cn-pipl');
    expect(sz.parameters.noticeReverifyDays).toBeLessThan(base.parameters.noticeReverifyDays);
    expect(sz.parameters.maxRetentionDays).toEqual(base.parameters.maxRetentionDays);
    expect(sz.citations.noticeContent).toMatch(/Shenzhen .*Art\. 14/);
    expect(sz.citations.notice).toBe(base.citations.notice);
    expect(sz.rules.map((r) => r.id)).toEqual(expect.arrayContaining(base.rules.map((r) => r.id)));
    expect(sz.rules.length).toBeGreaterThan(base.rules.length);
  });

  it('Tianjin forbids biometrics for credit information on top of the baseline', () => {
    const tj = loadJurisdiction('cn-tianjin');
    expect(tj.parameters.biometricForbiddenPurposes).toEqual(['credit-information']);
    expect(tj.parameters.forbiddenLocationClasses).toEqual(loadJurisdiction('cn-pipl').parameters.forbiddenLocationClasses);
    expect(tj.rules.find((r) => r.id === 'tianjin-no-biometric-credit')?.citation).toMatch(/Art\. 16/);
  });
});

describe('profile files', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'camwarden-jur-'));
    writeFileSync(join(dir, 'cn-pipl.yaml'), readFileSync(join(SHIPPED, 'cn-pipl.yaml')));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const write = (id: string, text: string): void => writeFileSync(join(dir, `${id}.yaml`), text);

  it('lets a child replace a rule by id, override one retention and add a prohibition', () => {
    write(
      'x-city',
      `id: x-city
name: X City
extends: cn-pipl
rules:
  - { id: face-filing, summary: stricter filing, citation: X Art. 1 }
  - { id: x-extra, summary: extra rule, citation: X Art. 2 }
parameters:
  maxRetentionDays: { marketing: 7 }
  forbiddenLocationClasses: [shop-floor]
`,
    );
    const base = loadJurisdiction('cn-pipl', dir);
    const x = loadJurisdiction('x-city', dir);
    expect(x.rules.find((r) => r.id === 'face-filing')?.citation).toBe('X Art. 1');
    expect(x.rules.map((r) => r.id).indexOf('face-filing')).toBe(base.rules.map((r) => r.id).indexOf('face-filing'));
    expect(x.rules.at(-1)?.id).toBe('x-extra');
    expect(x.parameters.maxRetentionDays.marketing).toBe(7);
    expect(x.parameters.maxRetentionDays['public-safety']).toBe(base.parameters.maxRetentionDays['public-safety']);
    expect(x.parameters.forbiddenLocationClasses).toEqual([...base.parameters.forbiddenLocationClasses, 'shop-floor']);
  });

  it('chains extends over several levels', () => {
    write('x-city', 'id: x-city\nname: X\nextends: cn-pipl\nparameters: { noticeReverifyDays: 60 }\n');
    write('x-district', 'id: x-district\nname: X district\nextends: x-city\ncitations: { notice: X district Art. 9 }\n');
    const d = loadJurisdiction('x-district', dir);
    expect(d.parameters.noticeReverifyDays).toBe(60);
    expect(d.citations.notice).toBe('X district Art. 9');
  });

  it('rejects an unknown key in a profile with its line', () => {
    write('x-city', 'id: x-city\nname: X\nextends: cn-pipl\nparameters:\n  noticeReverifyDay: 60\n');
    const p = problemsOf(() => loadJurisdiction('x-city', dir)).find((q) => q.path === 'parameters.noticeReverifyDay');
    expect(p?.line).toBe(5);
    expect(p?.file).toBe(join(dir, 'x-city.yaml'));
  });

  it('rejects an incomplete baseline', () => {
    write('bare', 'id: bare\nname: Bare\nrules: []\nparameters: {}\ncitations: {}\n');
    const problems = problemsOf(() => loadJurisdiction('bare', dir));
    expect(problems.map((p) => p.path)).toEqual(expect.arrayContaining(['parameters.noticeReverifyDays', 'citations.notice']));
  });

  it('rejects an id that does not match the file name', () => {
    write('x-city', 'id: y-city\nname: X\nextends: cn-pipl\n');
    expect(problemsOf(() => loadJurisdiction('x-city', dir)).map((p) => p.path)).toContain('id');
  });

  it('rejects an unknown parent and a cycle', () => {
    write('x-city', 'id: x-city\nname: X\nextends: nowhere\n');
    expect(problemsOf(() => loadJurisdiction('x-city', dir))[0]?.path).toBe('extends');
    write('x-a', 'id: x-a\nname: A\nextends: x-b\n');
    write('x-b', 'id: x-b\nname: B\nextends: x-a\n');
    expect(problemsOf(() => loadJurisdiction('x-a', dir))[0]?.path).toBe('extends');
  });

  it('rejects an unknown id and one that would leave the folder', () => {
    problemsOf(() => loadJurisdiction('cn-atlantis', dir));
    problemsOf(() => loadJurisdiction('../cn-pipl', dir));
  });
});
