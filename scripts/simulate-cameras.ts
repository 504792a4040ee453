/**
 * Start N simulated ONVIF cameras on loopback for the demo and for manual testing.
 *
 *   tsx scripts/simulate-cameras.ts --count 4 [--base-port 18000] [--masks] [--rtsp] [--printer] [--multicast]
 *
 * With --base-port P, camera i (from 0) uses HTTP port P+10i, RTSP P+10i+1 and WS-Discovery P+10i+2;
 * without it every port is picked free. Stops cleanly on SIGINT / SIGTERM.
 */
import { parseArgs } from 'node:util';
import {
  createCameraSimulator, createNonCameraResponder, type CameraSimulator, type DiscoveryResponder,
} from '../test/fixtures/camera-simulator/index.js';

const USAGE = 'usage: tsx scripts/simulate-cameras.ts --count N [--base-port P] [--masks] [--rtsp] [--printer] [--multicast]';

function parse(): { count: number; basePort: number | undefined; masks: boolean; rtsp: boolean; printer: boolean; multicast: boolean } {
  const { values } = parseArgs({
    options: {
      count: { type: 'string', default: '1' },
      'base-port': { type: 'string' },
      masks: { type: 'boolean', default: false },
      rtsp: { type: 'boolean', default: false },
      printer: { type: 'boolean', default: false },
      multicast: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) { console.log(USAGE); process.exit(0); }
  const count = Number(values.count);
  const basePort = values['base-port'] === undefined ? undefined : Number(values['base-port']);
  if (!Number.isInteger(count) || count < 1 || count > 256) throw new Error(`--count must be 1..256\n${USAGE}`);
  if (basePort !== undefined && (!Number.isInteger(basePort) || basePort < 1024 || basePort + 10 * count > 65535)) {
    throw new Error(`--base-port must leave room for ${count} cameras below 65536\n${USAGE}`);
  }
  return { count, basePort, masks: values.masks, rtsp: values.rtsp, printer: values.printer, multicast: values.multicast };
}

async function main(): Promise<void> {
  const args = parse();
  const sims: CameraSimulator[] = [];
  const others: DiscoveryResponder[] = [];
  for (let i = 0; i < args.count; i++) {
    const n = String(i + 1).padStart(2, '0');
    const ports = args.basePort === undefined ? {} : {
      port: args.basePort + 10 * i, rtspPort: args.basePort + 10 * i + 1, discoveryPort: args.basePort + 10 * i + 2,
    };
    sims.push(createCameraSimulator({
      id: `sim-cam-${n}`, manufacturer: 'Camwarden Sim', model: args.masks ? 'SIM-M2' : 'SIM-S1',
      serial: `SIM${n}${String(1000 + i)}`, firmware: '1.0.0', username: 'admin', password: `sim-pass-${n}`,
      supportsMasks: args.masks, rtsp: args.rtsp, discoveryMulticast: args.multicast, location: `demo/${n}`,
      ...ports,
    }));
  }
  if (args.printer) others.push(createNonCameraResponder({ multicast: args.multicast }));

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping ${sims.length} simulated cameras`);
    const results = await Promise.allSettled([...sims.map((s) => s.stop()), ...others.map((o) => o.stop())]);
    const failed = results.filter((r) => r.status === 'rejected').length;
    process.exit(failed === 0 ? 0 : 1);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  try {
    await Promise.all([...sims.map((s) => s.start()), ...others.map((o) => o.start())]);
  } catch (e) {
    console.error(`could not start the simulators: ${e instanceof Error ? e.message : String(e)}`);
    await Promise.allSettled([...sims.map((s) => s.stop()), ...others.map((o) => o.stop())]);
    process.exit(1);
  }

  const rows = sims.map((s) => ({
    id: s.info.id, device: s.deviceUrl, user: s.info.username, password: s.info.password,
    masks: s.info.supportsMasks ? 'yes' : 'no', discovery: `udp 127.0.0.1:${s.discoveryPort}`,
    rtsp: s.rtspUrl ?? '-',
  }));
  console.table(rows);
  for (const o of others) console.log(`non-camera WS-Discovery device (printer) on udp 127.0.0.1:${o.port}`);
  if (args.multicast) console.log('joined WS-Discovery multicast 239.255.255.250:3702 on loopback where the host allows it');
  console.log('snapshot: GET <device host>/onvif/snapshot.jpg with HTTP digest; Ctrl-C to stop');
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
