import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, parseConfigText, type ConfigProblem } from '../../agent/config/load-config.js';
import { renderAgentSchemaFile } from '../../agent/config/schema.js';
import { isCamwardenError } from '../../agent/errors.js';

const repo = (p: string): string => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const EXAMPLE = repo('config/agent.example.yaml');

// Line numbers below are those of this text; keep it in sync when editing.
const MINIMAL = `agent:
  id: gw-test-01
  region: cn-gd
  dataDir: ../var/data
  keysDir: /etc/camwarden/keys
site:
  id: test-site
  name: Test site
  address: 1 Test Road
  operator: { name: Test Operator, contact: ops@example.org }
  jurisdiction: cn-shenzhen
  rightsUrl: https://example.org/rights
capture:
  retentionDays: 30
cameras:
  - id: cam-a
    location: Gate A
    locationClass: entrance
  - id: cam-b
    location: Lobby
    locationClass: lobby
`;

function parse(text: string) {
  return parseConfigText(text, 'test.yaml', '/srv/camwarden/etc');
}

/** Runs `fn`, expects `config.invalid`, returns its problems. */
function problemsOf(fn: () => unknown): ConfigProblem[] {
  try {
    fn();
  } catch (error) {
    expect(isCamwardenError(error, 'config.invalid')).toBe(true);
    return (error as { details: { problems: ConfigProblem[] } }).details.problems;
  }
  throw new Error('expected config.invalid');
}

function find(problems: ConfigProblem[], path: string): ConfigProblem {
  const p = problems.find((q) => q.path === path);
  expect(p, `a problem at ${path} in ${JSON.stringify(problems)}`).toBeDefined();
  return p!;
}

const tmp: string[] = [];
afterEach(() => {
  for (const dir of tmp.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('loadConfig', () => {
  it('loads the example config with its profile', () => {
    const { config, profile, path } = loadConfig(EXAMPLE);
    expect(path).toBe(EXAMPLE);
    expect(profile.id).toBe('cn-shenzhen');
    expect(config.cameras.map((c) => c.id)).toEqual(['cam-north-gate', 'cam-east-lobby']);
    expect(config.cameras.some((c) => c.faceRecognition)).toBe(true);
    expect(config.http.tokens).toEqual([]);
    expect(config.capture.retentionDays).toBeLessThanOrEqual(profile.parameters.maxRetentionDays['public-safety']);
  });

  it('fills in defaults', () => {
    const { config } = parse(MINIMAL);
    expect(config.agent.logLevel).toBe('info');
    expect(config.capture).toMatchObject({ maxBytes: 16_777_216, maxWidth: 8192, maxHeight: 8192, blockedReportSeconds: 60 });
    expect(config.retention.purgeEveryMinutes).toBe(60);
    expect(config.cameras[0]).toMatchObject({ enabled: true, faceRecognition: false });
    expect(config.http).toEqual({ host: '127.0.0.1', port: 8640, tokens: [] });
  });

  it('resolves relative paths against the config file folder', () => {
    const dir = mkdtempSync(join(tmpdir(), 'camwarden-config-'));
    tmp.push(dir);
    mkdirSync(join(dir, 'etc'));
    copyFileSync(EXAMPLE, join(dir, 'etc', 'agent.yaml'));
    const { config } = loadConfig(join(dir, 'etc', 'agent.yaml'));
    expect(config.agent.dataDir).toBe(join(dir, 'var', 'data'));
    expect(config.agent.keysDir).toBe(join(dir, 'var', 'keys'));
  });

  it('keeps absolute paths and resolves TLS files too', () => {
    const text = `${MINIMAL}http:\n  tls: { certFile: tls/a.crt, keyFile: /etc/tls/a.key }\n`;
    const { config } = parse(text);
    expect(config.agent.dataDir).toBe('/srv/camwarden/var/data');
    expect(config.agent.keysDir).toBe('/etc/camwarden/keys');
    expect(config.http.tls).toEqual({ certFile: '/srv/camwarden/etc/tls/a.crt', keyFile: '/etc/tls/a.key' });
  });

  it('returns a deep-frozen result', () => {
    const loaded = parse(MINIMAL);
    expect(Object.isFrozen(loaded)).toBe(true);
    expect(Object.isFrozen(loaded.config.cameras[0])).toBe(true);
    expect(Object.isFrozen(loaded.profile.parameters.maxRetentionDays)).toBe(true);
    expect(() => {
      (loaded.config.capture as { retentionDays: number }).retentionDays = 9999;
    }).toThrow(TypeError);
  });

  it('names the file when it does not exist', () => {
    const problems = problemsOf(() => loadConfig('/nonexistent/agent.yaml'));
    expect(problems[0]?.file).toBe('/nonexistent/agent.yaml');
  });

  it('reports malformed YAML with its line', () => {
    const text = MINIMAL.replace('  region: cn-gd', '  region: [cn-gd');
    const problems = problemsOf(() => parse(text));
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]?.line).toBeGreaterThanOrEqual(3);
  });

  it('rejects a duplicate YAML key', () => {
    const problems = problemsOf(() => parse(MINIMAL.replace('  region: cn-gd', '  region: cn-gd\n  region: cn-bj')));
    expect(problems[0]?.line).toBe(4);
  });

  it('names an unknown key by its own path and line', () => {
    const text = MINIMAL.replace('  retentionDays: 30', '  retentionDays: 30\n  retentionDay: 31');
    const p = find(problemsOf(() => parse(text)), 'capture.retentionDay');
    expect(p.line).toBe(15);
    expect(p.expected).toContain('retentionDays');
  });

  it('rejects unknown keys inside list items and at the top level', () => {
    const text = `${MINIMAL.replace('    locationClass: lobby', '    locationClass: lobby\n    zoom: 3')}mqtt: {}\n`;
    const problems = problemsOf(() => parse(text));
    expect(find(problems, 'cameras[1].zoom').line).toBe(22);
    expect(find(problems, 'mqtt').line).toBe(23);
  });

  it('says what type was expected and what was found', () => {
    const p = find(problemsOf(() => parse(MINIMAL.replace('retentionDays: 30', 'retentionDays: "thirty"'))), 'capture.retentionDays');
    expect(p.line).toBe(14);
    expect(p.expected).toBe('integer');
    expect(p.found).toMatch(/^string/);
  });

  it('reports every problem at once', () => {
    const text = MINIMAL.replace('  id: gw-test-01', '  id: GW_01')
      .replace('    locationClass: lobby', '    locationClass: rooftop')
      .replace('retentionDays: 30', 'retentionDays: 30.5')
      .replace('  name: Test site\n', '');
    const problems = problemsOf(() => parse(text));
    expect(problems.map((p) => p.path).sort()).toEqual(
      ['agent.id', 'cameras[1].locationClass', 'capture.retentionDays', 'site.name'].sort(),
    );
    expect(find(problems, 'site.name').line).toBe(6);
    expect(find(problems, 'cameras[1].locationClass').expected).toContain('entrance');
  });

  it('rejects retention above the profile maximum', () => {
    const p = find(problemsOf(() => parse(MINIMAL.replace('retentionDays: 30', 'retentionDays: 91'))), 'capture.retentionDays');
    expect(p.line).toBe(14);
    expect(p.found).toBe('91');
  });

  it('rejects duplicate camera ids', () => {
    const p = find(problemsOf(() => parse(MINIMAL.replace('  - id: cam-b', '  - id: cam-a'))), 'cameras[1].id');
    expect(p.line).toBe(19);
  });

  it('rejects two tokens with the same hash', () => {
    const hash = 'a'.repeat(64);
    const text = `${MINIMAL}http:\n  tokens:\n    - { role: operator, sha256: ${hash} }\n    - { role: auditor, sha256: ${hash} }\n`;
    find(problemsOf(() => parse(text)), 'http.tokens[1].sha256');
  });

  it('rejects an unknown jurisdiction', () => {
    const p = find(problemsOf(() => parse(MINIMAL.replace('cn-shenzhen', 'cn-atlantis'))), 'site.jurisdiction');
    expect(p.line).toBe(11);
    expect(p.expected).toContain('cn-shenzhen');
  });

  it('rejects a jurisdiction id that is a path', () => {
    find(problemsOf(() => parse(MINIMAL.replace('cn-shenzhen', '../../etc/passwd'))), 'site.jurisdiction');
  });

  it('reports missing sections and an empty file', () => {
    expect(problemsOf(() => parse('')).map((p) => p.path)).toEqual(['']);
    const problems = problemsOf(() => parse('agent:\n  id: gw-test-01\n'));
    for (const path of ['agent.region', 'site', 'capture', 'cameras']) find(problems, path);
  });
});

describe('config/agent.schema.json', () => {
  it('matches the generator (npm run schema)', () => {
    expect(readFileSync(repo('config/agent.schema.json'), 'utf8')).toBe(renderAgentSchemaFile());
  });

  it('lets the file leave out keys that have defaults', () => {
    const schema = JSON.parse(renderAgentSchemaFile()) as { required: string[] };
    expect(schema.required).not.toContain('http');
    expect(schema.required).toContain('capture');
  });
});

// Guards the fixture's line numbers the other tests rely on.
it('MINIMAL fixture keeps its layout', () => {
  const lines = MINIMAL.split('\n');
  expect(lines[10]).toBe('  jurisdiction: cn-shenzhen');
  expect(lines[13]).toBe('  retentionDays: 30');
});

describe('privacy masks in the config (Measures Art. 13)', () => {
  const withMasks = (masks: string) =>
    MINIMAL.replace('    locationClass: lobby\n', `    locationClass: lobby\n    privacyMasks:\n${masks}`);

  it('loads normalised polygons', () => {
    const { config } = parse(withMasks('      - { name: window, points: [[0.1, 0.1], [0.3, 0.1], [0.3, 0.4]] }\n'));
    expect(config.cameras[1]!.privacyMasks).toEqual([{ name: 'window', points: [[0.1, 0.1], [0.3, 0.1], [0.3, 0.4]] }]);
  });

  it('names a coordinate outside the frame and a self-intersecting polygon, with their lines', () => {
    const text = withMasks('      - { name: ok, points: [[0.5, 0.5], [0.6, 0.5], [0.6, 0.6]] }\n      - { name: out, points: [[0.1, 0.1], [1.3, 0.1], [0.3, 0.4]] }\n');
    const outLine = text.split('\n').findIndex((l) => l.includes('name: out')) + 1;
    expect(find(problemsOf(() => parse(text)), 'cameras[1].privacyMasks[1].points[1][0]').line).toBe(outLine);
    // Geometry the schema cannot express is checked once the shapes are right.
    const bow = withMasks('      - { name: ok, points: [[0.5, 0.5], [0.6, 0.5], [0.6, 0.6]] }\n      - { name: bow, points: [[0, 0], [1, 1], [1, 0], [0, 1]] }\n');
    const p = find(problemsOf(() => parse(bow)), 'cameras[1].privacyMasks[1].points');
    expect(p.message).toMatch(/intersect/);
    expect(p.line).toBe(bow.split('\n').findIndex((l) => l.includes('privacyMasks')) + 1);
  });
});

describe('camera sources and ONVIF credentials', () => {
  const withCameraB = (extra: string) => MINIMAL.replace('    locationClass: lobby\n', `    locationClass: lobby\n${extra}`);

  it('resolves the ONVIF password file against the config folder and fills the onvif defaults', () => {
    const { config } = parse(
      withCameraB('    onvif: { url: "http://192.0.2.10/onvif/device_service", username: admin, passwordFile: secrets/cam-b.pass }\n    source: { mode: snapshot, intervalSeconds: 2 }\n'),
    );
    expect(config.cameras[1]!.onvif!.passwordFile).toBe('/srv/camwarden/etc/secrets/cam-b.pass');
    expect(config.cameras[1]!.source).toEqual({ mode: 'snapshot', intervalSeconds: 2 });
    expect(config.onvif).toMatchObject({ timeoutMs: 5000, refreshMinutes: 15, driftThresholdSeconds: 5 });
  });

  it('refuses a source with nowhere to take frames from, naming the camera', () => {
    const push = problemsOf(() => parse(withCameraB('    source: { mode: push }\n')));
    expect(find(push, 'cameras[1].source.mode').message).toContain('push.tokenSha256');
    const snapshot = problemsOf(() => parse(withCameraB('    source: { mode: snapshot, intervalSeconds: 5 }\n')));
    expect(find(snapshot, 'cameras[1].source.mode').message).toContain('onvif');
    const password = problemsOf(() => parse(withCameraB('    onvif: { url: "http://192.0.2.10/x", username: admin, password: hunter2, passwordFile: p }\n')));
    expect(password.some((p) => p.path === 'cameras[1].onvif.password')).toBe(true);
  });
});
