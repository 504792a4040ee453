import { createSocket, type Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discover, enrich, parseProbeMatches, probeNetwork } from '../../agent/cameras/discovery.js';
import {
  createCameraSimulator, createNonCameraResponder, type CameraSimulator, type DiscoveryResponder,
} from '../fixtures/camera-simulator/index.js';

const USER = 'operator';
const PASS = 'correct horse';
const common = { manufacturer: 'Acme Optics', model: 'AO-200', firmware: '4.2.1', username: USER, password: PASS };

/** A UDP peer that answers every probe with whatever the test gives it. */
async function fakeResponder(answers: (probe: string) => string[]): Promise<{ port: number; socket: Socket; probes: string[] }> {
  const socket = createSocket('udp4');
  const probes: string[] = [];
  socket.on('message', (msg, rinfo) => {
    probes.push(msg.toString('utf8'));
    for (const a of answers(msg.toString('utf8'))) socket.send(Buffer.from(a), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: socket.address().port, socket, probes };
}

const messageIdOf = (probe: string): string => /MessageID>([^<]+)</.exec(probe)?.[1] ?? '';

describe('WS-Discovery', () => {
  let lobby: CameraSimulator;
  let gate: CameraSimulator;
  let printer: DiscoveryResponder;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    lobby = createCameraSimulator({ ...common, id: 'cam-lobby', serial: 'SN-0001', supportsMasks: true });
    gate = createCameraSimulator({ ...common, id: 'cam gate/2', serial: 'SN-0002' });
    printer = createNonCameraResponder({ id: 'printer-1' });
    await Promise.all([lobby.start(), gate.start(), printer.start()]);
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await Promise.all([lobby?.stop(), gate?.stop(), printer?.stop()]);
  });

  const targets = (): { host: string; port: number }[] =>
    [lobby.discoveryPort, gate.discoveryPort, printer.port].map((port) => ({ host: '127.0.0.1', port }));

  it('finds the cameras by unicast probes, and tells the printer apart', async () => {
    const devices = await discover({ timeoutMs: 400, targets: targets() });
    expect(devices).toHaveLength(3);
    const byEndpoint = new Map(devices.map((d) => [d.endpoint, d]));
    expect(byEndpoint.get(lobby.info.endpoint)).toMatchObject({
      address: lobby.deviceUrl, name: 'cam-lobby', hardware: 'AO-200', isCamera: true,
      types: ['tdn:NetworkVideoTransmitter', 'tds:Device'],
    });
    expect(byEndpoint.get(gate.info.endpoint)).toMatchObject({ address: gate.deviceUrl, name: 'cam gate/2', isCamera: true });
    const other = devices.find((d) => !d.isCamera);
    expect(other).toMatchObject({ types: ['wsdp:Device'], address: 'http://127.0.0.1:9/wsd/printer', isCamera: false });
  });

  it('sends a Probe of the 2005/04 namespace with a fresh MessageID per probe, repeated once', async () => {
    const peer = await fakeResponder(() => []);
    sockets.push(peer.socket);
    await probeNetwork({ timeoutMs: 200, targets: [{ host: '127.0.0.1', port: peer.port }] });
    await probeNetwork({ timeoutMs: 200, targets: [{ host: '127.0.0.1', port: peer.port }] });
    expect(peer.probes).toHaveLength(4);
    expect(peer.probes[0]).toContain('xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"');
    expect(peer.probes[0]).toContain('<d:Types>tdn:NetworkVideoTransmitter</d:Types>');
    const ids = peer.probes.map(messageIdOf);
    expect(ids[0]).toMatch(/^urn:uuid:[0-9a-f-]{36}$/);
    expect(ids[0]).toBe(ids[1]); // a SOAP-over-UDP repeat is the same message
    expect(ids[2]).not.toBe(ids[0]);
  });

  it('ignores and counts malformed replies, and de-duplicates devices by endpoint', async () => {
    const peer = await fakeResponder((probe) => {
      const id = messageIdOf(probe);
      return [
        'this is not XML <<<',
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><Probe',
        `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"><s:Header><a:RelatesTo>${id}</a:RelatesTo></s:Header><s:Body><d:ProbeMatches><d:ProbeMatch><d:Types>x</d:Types></d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>`,
        '\u0000\u00ff binary',
      ];
    });
    sockets.push(peer.socket);
    const report = await probeNetwork({
      timeoutMs: 400,
      targets: [{ host: '127.0.0.1', port: peer.port }, ...targets(), { host: '127.0.0.1', port: lobby.discoveryPort }],
    });
    expect(report.malformed).toBe(8); // four bad datagrams per probe, and the probe is sent twice
    expect(report.devices.filter((d) => d.isCamera).map((d) => d.endpoint).sort()).toEqual([lobby.info.endpoint, gate.info.endpoint].sort());
    expect(report.devices).toHaveLength(3);
  });

  it('ignores a well-formed ProbeMatches that answers someone else', async () => {
    const stranger = `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl"><s:Header><a:RelatesTo>urn:uuid:00000000-0000-0000-0000-000000000000</a:RelatesTo></s:Header><s:Body><d:ProbeMatches><d:ProbeMatch><a:EndpointReference><a:Address>urn:uuid:11111111-1111-1111-1111-111111111111</a:Address></a:EndpointReference><d:Types>dn:NetworkVideoTransmitter</d:Types><d:XAddrs>http://10.9.9.9/onvif/device_service</d:XAddrs></d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>`;
    const peer = await fakeResponder(() => [stranger]);
    sockets.push(peer.socket);
    const report = await probeNetwork({ timeoutMs: 250, targets: [{ host: '127.0.0.1', port: peer.port }] });
    expect(report.devices).toEqual([]);
    expect(report.unrelated).toBe(2);
    expect(report.malformed).toBe(0);
  });

  it('resolves Types by namespace, not by prefix', () => {
    const reply = (ns: string): string => `<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Header><RelatesTo xmlns="http://schemas.xmlsoap.org/ws/2004/08/addressing">urn:uuid:1</RelatesTo></e:Header><e:Body><m:ProbeMatches xmlns:m="http://schemas.xmlsoap.org/ws/2005/04/discovery"><m:ProbeMatch><w:EndpointReference xmlns:w="http://schemas.xmlsoap.org/ws/2004/08/addressing"><w:Address>urn:uuid:2</w:Address></w:EndpointReference><m:Types xmlns:q="${ns}">q:NetworkVideoTransmitter</m:Types><m:XAddrs>http://10.0.0.2/onvif/device_service</m:XAddrs></m:ProbeMatch></m:ProbeMatches></e:Body></e:Envelope>`;
    const camera = parseProbeMatches(reply('http://www.onvif.org/ver10/network/wsdl'));
    const impostor = parseProbeMatches(reply('http://example.com/not-onvif'));
    expect(camera).toMatchObject({ relatesTo: 'urn:uuid:1', devices: [{ isCamera: true, types: ['tdn:NetworkVideoTransmitter'] }] });
    expect(impostor).toMatchObject({ devices: [{ isCamera: false, types: ['{http://example.com/not-onvif}NetworkVideoTransmitter'] }] });
  });

  it('enriches discovered cameras with device information, and records failures', async () => {
    const devices = await discover({ timeoutMs: 300, targets: targets() });
    const enriched = await Promise.all(devices.map((d) => enrich(d, { username: USER, password: PASS, timeoutMs: 1000 })));
    const lobbyRow = enriched.find((d) => d.endpoint === lobby.info.endpoint);
    expect(lobbyRow?.deviceInformation).toEqual({ manufacturer: 'Acme Optics', model: 'AO-200', serial: 'SN-0001', firmware: '4.2.1', hardwareId: 'AO-200-HW1' });
    expect(enriched.find((d) => !d.isCamera)?.error).toBe('unreachable');
    const wrong = await enrich(devices.find((d) => d.endpoint === lobby.info.endpoint)!, { username: USER, password: 'nope', timeoutMs: 1000 });
    expect(wrong.error).toBe('auth');
    expect(wrong.deviceInformation).toBeUndefined();
  });
});
