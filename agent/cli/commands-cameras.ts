import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { AgentServices } from '../agent.js';
import { describeCamera } from '../cameras/camera-inventory.js';
import { enrich, probeNetwork, type EnrichedDevice } from '../cameras/discovery.js';
import { connectCamera } from '../cameras/onvif-camera.js';
import { configuredMasks } from '../cameras/privacy-mask.js';
import { readPasswordFileSync } from '../cameras/password-file.js';
import { addCamerasToConfig } from '../config/add-cameras.js';
import { loadConfig } from '../config/load-config.js';
import type { CameraConfig } from '../config/schema.js';
import { CamwardenError } from '../errors.js';
import { info, printJson, printTable } from './output.js';

type WithServices = <T>(fn: (s: AgentServices) => T | Promise<T>) => Promise<T>;

function parseTarget(t: string): { host: string; port: number } {
  const m = /^([^:\s]+):(\d{1,5})$/.exec(t);
  const port = Number(m?.[2]);
  if (!m || port < 1 || port > 65535) throw new CamwardenError('usage', `--target must be HOST:PORT, got ${t}`, { field: 'target' });
  return { host: m[1]!, port };
}

async function liveInventory(camera: CameraConfig, timeoutMs: number) {
  if (!camera.onvif) throw new CamwardenError('input.invalid', `camera ${camera.id} has no onvif section`, { field: 'onvif' });
  const cam = await connectCamera({ url: camera.onvif.url, username: camera.onvif.username, password: readPasswordFileSync(camera.onvif.passwordFile, `cameras.${camera.id}.onvif.passwordFile`), timeoutMs });
  try {
    return await describeCamera(cam, new Date(), configuredMasks(camera));
  } finally {
    cam.close();
  }
}

export function registerCameraCommands(program: Command, withServices: WithServices, configPath: () => string): void {
  const cameras = program.command('cameras').description('cameras: ONVIF discovery and inventory');

  cameras
    .command('discover')
    .description('WS-Discovery probe: lists devices (address, manufacturer, model, serial, firmware); --add writes cameras to the config, disabled')
    .option('--interface <name>', 'interface name or IPv4 address to probe from')
    .option('--target <host:port...>', 'unicast probes (networks without multicast)')
    .option('--timeout <ms>', 'how long to collect answers', '3000')
    .option('--username <user>', 'ONVIF user, to read device information')
    .option('--password-file <file>', 'file holding the ONVIF password')
    .option('--add', 'add the cameras found to the config (disabled until a notice covers them)')
    .option('--json', 'print JSON')
    .action(async (o: { interface?: string; target?: string[]; timeout: string; username?: string; passwordFile?: string; add?: boolean; json?: boolean }) => {
      const timeoutMs = Number(o.timeout);
      if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 60_000) throw new CamwardenError('usage', '--timeout must be 100..60000 ms', { field: 'timeout' });
      if ((o.username === undefined) !== (o.passwordFile === undefined)) throw new CamwardenError('usage', 'give --username and --password-file together', { field: 'username' });
      if (o.add && o.username === undefined) throw new CamwardenError('usage', '--add needs --username and --password-file (they go into the config)', { field: 'add' });
      const iface = o.interface ?? loadConfigQuietly(configPath())?.onvif.discoveryInterface;
      const report = await probeNetwork({ timeoutMs, interface: iface, targets: o.target?.map(parseTarget) });
      const password = o.passwordFile ? readPasswordFileSync(o.passwordFile, 'password-file', 'input.invalid') : undefined;
      const devices: EnrichedDevice[] = await Promise.all(
        report.devices.map((d) => (d.isCamera && o.username && password !== undefined ? enrich(d, { username: o.username, password, timeoutMs }) : Promise.resolve(d))),
      );
      if (o.json) printJson({ devices, malformed: report.malformed });
      else {
        printTable(
          devices.map((d) => {
            const di = d.deviceInformation;
            return { address: d.address, camera: d.isCamera ? 'yes' : 'no', manufacturer: di?.manufacturer ?? '', model: di?.model ?? d.hardware ?? '', serial: di?.serial ?? '', firmware: di?.firmware ?? '', error: d.error ?? '' };
          }),
          ['address', 'camera', 'manufacturer', 'model', 'serial', 'firmware', 'error'],
        );
        if (report.malformed > 0) info(`${report.malformed} malformed answer(s) ignored`);
      }
      if (o.add) {
        const found = devices
          .filter((d) => d.isCamera)
          .map((d) => ({ url: d.address, name: d.name, model: d.deviceInformation?.model ?? d.hardware, serial: d.deviceInformation?.serial, endpoint: d.endpoint }));
        const r = addCamerasToConfig(configPath(), found, { username: o.username!, passwordFile: resolve(o.passwordFile!) });
        info(r.added.length > 0 ? `added to ${configPath()} (disabled): ${r.added.join(', ')}` : 'no new cameras to add');
      }
    });

  cameras
    .command('list')
    .description('cameras of the config: source, masks, whether a current notice covers each, and their last known state')
    .option('--json', 'print JSON')
    .action((o: { json?: boolean }) =>
      withServices((s) => {
        const now = s.clock.now();
        const rows = s.config.cameras.map((c) => {
          const known = s.inventory.get(c.id);
          return {
            id: c.id,
            enabled: c.enabled ? 'yes' : 'no',
            face: c.faceRecognition ? 'yes' : 'no',
            source: c.source?.mode ?? 'none',
            onvif: c.onvif?.url ?? '',
            masks: c.privacyMasks?.length ?? 0,
            masking: (c.privacyMasks?.length ?? 0) === 0 ? 'none' : (known?.inventory?.masking ?? 'agent'),
            online: known?.online === true ? 'yes' : known?.online === false ? 'no' : 'unknown',
            refreshed: known?.refreshedAt ?? '',
            notice: s.notices.currentFor(c.id, now)?.id ?? 'NONE (capture blocked)',
          };
        });
        if (o.json) printJson(rows);
        else printTable(rows, ['id', 'enabled', 'face', 'source', 'masks', 'masking', 'online', 'refreshed', 'notice', 'onvif']);
      }),
    );

  cameras
    .command('show <id>')
    .description('a camera: its config and the inventory and state the agent last recorded')
    .action((id: string) =>
      withServices((s) => {
        const camera = configuredCamera(s, id);
        const known = s.inventory.get(id);
        printJson({
          config: camera,
          inventory: known?.inventory ?? null,
          refreshedAt: known?.refreshedAt ?? null,
          online: known?.online ?? null,
          lastError: known?.lastError ?? null,
        });
      }),
    );

  cameras
    .command('refresh <id>')
    .description('read the inventory from the camera now (ONVIF) and record it')
    .action((id: string) =>
      withServices(async (s) => {
        const camera = configuredCamera(s, id);
        const inventory = await liveInventory(camera, s.config.onvif.timeoutMs);
        s.inventory.save(id, inventory);
        printJson({ config: camera, inventory });
      }),
    );
}

function configuredCamera(s: AgentServices, id: string): CameraConfig {
  const camera = s.config.cameras.find((c) => c.id === id);
  if (!camera) throw new CamwardenError('not-found', `camera ${id} is not in the config`, { field: 'id' });
  return camera;
}

function loadConfigQuietly(path: string) {
  try {
    return loadConfig(path).config;
  } catch {
    return undefined;
  }
}
