import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../agent/config/load-config.js';
import { createCameraSimulator, createNonCameraResponder, type CameraSimulator, type DiscoveryResponder } from '../fixtures/camera-simulator/index.js';
import { runCliAsync as runCli } from '../helpers/cli.js';
import { makeAgentEnv, type AgentEnv } from '../helpers/agent-env.js';

const common = { manufacturer: 'Simcam', model: 'SC-200', firmware: '5.50', username: 'admin', password: 'Sekr3t!' };
let env: AgentEnv;
let cams: CameraSimulator[];
let printer: DiscoveryResponder;

beforeAll(async () => {
  env = makeAgentEnv({ start: new Date().toISOString() });
  env.services.close();
  writeFileSync(join(env.dir, 'cam.pass'), `${common.password}\n`, { mode: 0o600 });
  cams = [createCameraSimulator({ ...common, id: 'sim-a', serial: 'SN-000111' }), createCameraSimulator({ ...common, id: 'sim-b', serial: 'SN-000222', supportsMasks: true })];
  printer = createNonCameraResponder({ id: 'printer-1' });
  await Promise.all([...cams.map((c) => c.start()), printer.start()]);
});
afterAll(async () => {
  await Promise.all([...cams.map((c) => c.stop()), printer.stop()]);
  env.cleanup();
});

describe('camwarden cameras', () => {
  it('discovers cameras (not the printer), lists their device information and adds them disabled to the config', async () => {
    const targets = [...cams.map((c) => c.discoveryPort), printer.port].flatMap((p) => ['--target', `127.0.0.1:${p}`]);
    const args = ['--config', env.configPath, 'cameras', 'discover', ...targets, '--timeout', '1500', '--username', 'admin', '--password-file', join(env.dir, 'cam.pass')];
    const listed = await runCli(args);
    expect(listed.status, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/Simcam\s+SC-200\s+SN-000111\s+5\.50/);
    expect(listed.stdout).toMatch(/Simcam\s+SC-200\s+SN-000222/);
    expect(listed.stdout.split('\n').filter((l) => /\sno(\s|$)/.test(l))).toEqual([expect.stringContaining('printer')]);

    const before = readFileSync(env.configPath, 'utf8');
    const added = await runCli([...args, '--add']);
    expect(added.status, added.stderr).toBe(0);
    const { config } = loadConfig(env.configPath);
    const discovered = config.cameras.filter((c) => c.onvif);
    expect(discovered).toHaveLength(2);
    for (const c of discovered) expect(c).toMatchObject({ enabled: false, onvif: { username: 'admin', passwordFile: join(env.dir, 'cam.pass') } });
    expect(readFileSync(env.configPath, 'utf8').startsWith(before.trimEnd().slice(0, 40))).toBe(true);
    // Again: nothing new.
    expect((await runCli([...args, '--add'])).stderr).toContain('no new cameras');
    expect(loadConfig(env.configPath).config.cameras.filter((c) => c.onvif)).toHaveLength(2);
  }, 60_000);

  it('refreshes the live inventory of a camera into the store, shows it, and lists which cameras a notice covers', async () => {
    const { config } = loadConfig(env.configPath);
    const b = config.cameras.find((c) => c.onvif?.url === cams[1]!.deviceUrl)!;
    const before = await runCli(['--config', env.configPath, 'cameras', 'show', b.id]);
    expect(before.status, before.stderr).toBe(0);
    expect(JSON.parse(before.stdout)).toMatchObject({ inventory: null, online: null, refreshedAt: null });

    const refresh = await runCli(['--config', env.configPath, 'cameras', 'refresh', b.id]);
    expect(refresh.status, refresh.stderr).toBe(0);
    const inv = JSON.parse(refresh.stdout).inventory;
    expect(inv).toMatchObject({ deviceInformation: { serial: 'SN-000222' }, masksSupported: true, masking: 'none' });
    expect(inv.streamUri).toMatch(/^rtsp:\/\//);
    expect(refresh.stdout).not.toContain(common.password);

    const show = await runCli(['--config', env.configPath, 'cameras', 'show', b.id]);
    expect(JSON.parse(show.stdout)).toMatchObject({ inventory: { deviceInformation: { serial: 'SN-000222' }, streamUri: inv.streamUri }, refreshedAt: inv.refreshedAt });
    expect(show.stdout).not.toContain(common.password);
    const list = await runCli(['--config', env.configPath, 'cameras', 'list', '--json']);
    const row = JSON.parse(list.stdout).find((r: { id: string }) => r.id === b.id);
    expect(row).toMatchObject({ notice: 'NONE (capture blocked)', refreshed: inv.refreshedAt, online: 'unknown' });
    expect((await runCli(['--config', env.configPath, 'cameras', 'list'])).stdout).toContain('NONE (capture blocked)');
  }, 60_000);

  it('names a camera that does not answer, with exit status and code', async () => {
    await cams[0]!.stop();
    const { config } = loadConfig(env.configPath);
    const a = config.cameras.find((c) => c.onvif?.url === cams[0]!.deviceUrl)!;
    const r = await runCli(['--config', env.configPath, 'cameras', 'refresh', a.id]);
    expect(r.status).toBe(69);
    expect(r.stderr).toContain('camera.unreachable');
  }, 60_000);
});
