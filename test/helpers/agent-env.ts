import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { stringify } from 'yaml';
import { buildServices, type AgentServices } from '../../agent/agent.js';
import { manualClock, type Ids } from '../../agent/clock.js';
import { ROLES, type CameraConfig, type Role } from '../../agent/config/schema.js';
import { hashToken, newToken } from '../../agent/http/auth.js';
import { initKeys } from '../../agent/keys/agent-keys.js';
import { silentLogger } from '../../agent/log.js';
import type { NoticeContent } from '../../agent/notices/notice-content.js';

/**
 * A real agent in a temp dir: a valid config file (the shape of config/agent.example.yaml,
 * cn-shenzhen), fresh keys, a database, every service built by the composition root, with a
 * manual clock and counting ids so tests are exact. One bearer token per role.
 */
export const START = '2026-03-02T08:00:00.000Z';

export type CameraInput = Pick<CameraConfig, 'id' | 'location' | 'locationClass'> & Partial<CameraConfig>;

export const DEFAULT_CAMERAS: CameraInput[] = [
  { id: 'cam-north-gate', name: 'North gate', location: '北门入口 North gate entrance', locationClass: 'entrance', faceRecognition: false },
  { id: 'cam-east-lobby', name: 'East lobby', location: '东侧大堂 East lobby', locationClass: 'lobby', faceRecognition: true },
];

export interface AgentEnv {
  services: AgentServices;
  configPath: string;
  dir: string;
  /** Plain bearer tokens; only their SHA-256 is in the config. */
  tokens: Record<Role, string>;
  clock: ReturnType<typeof manualClock>;
  ids: Ids;
  cleanup(): void;
}

export interface AgentEnvOptions {
  cameras?: CameraInput[];
  /** Token names per role (default `<role>-test`); roles left out get no token. */
  tokens?: Partial<Record<Role, string>>;
  /** Extra keys merged over the http section (e.g. tls). */
  http?: Record<string, unknown>;
  start?: string;
  /** `ticking`: the clock runs in real time from `start` (set/advance shift it); default `manual`. */
  clock?: 'manual' | 'ticking';
}

/** A clock that runs at real speed from `start`; set and advance move it, as on a manual clock. */
export function tickingClock(start: Date | string): ReturnType<typeof manualClock> {
  let offset = new Date(start).getTime() - Date.now();
  return {
    now: () => new Date(Date.now() + offset),
    set: (v) => {
      offset = new Date(v).getTime() - Date.now();
    },
    advance: (ms) => {
      offset += ms;
    },
  };
}

/** ids `id-00000001`, `id-00000002`, ... in call order; long enough to name a blob file. */
export function countingIds(prefix = 'id'): Ids {
  let n = 0;
  return { next: () => `${prefix}-${String(++n).padStart(8, '0')}` };
}

export function makeAgentEnv(opts: AgentEnvOptions = {}): AgentEnv {
  const dir = mkdtempSync(join(tmpdir(), 'camwarden-'));
  try {
    const names = opts.tokens ?? Object.fromEntries(ROLES.map((r) => [r, `${r}-test`]));
    const tokens = {} as Record<Role, string>;
    const tokenRows = [];
    for (const role of ROLES) {
      const name = names[role];
      if (name === undefined) continue;
      tokens[role] = newToken();
      tokenRows.push({ role, sha256: hashToken(tokens[role]), name });
    }
    const config = {
      agent: { id: 'gw-test-01', region: 'cn-gd', dataDir: join(dir, 'data'), keysDir: join(dir, 'keys'), logLevel: 'info' },
      site: {
        id: 'test-plaza',
        name: '测试广场 Test Plaza',
        address: '深圳市福田区 Futian District, Shenzhen',
        operator: { name: '测试物业 Test Property Co.', contact: '+86 755 0000 0000' },
        jurisdiction: 'cn-shenzhen',
        rightsUrl: 'https://test-plaza.example/privacy',
      },
      capture: { retentionDays: 30 },
      retention: { purgeEveryMinutes: 60 },
      cameras: opts.cameras ?? DEFAULT_CAMERAS,
      http: { host: '127.0.0.1', port: 0, tokens: tokenRows, ...opts.http },
    };
    const configPath = join(dir, 'agent.yaml');
    writeFileSync(configPath, stringify(config));
    initKeys(config.agent.keysDir);
    const clock = opts.clock === 'ticking' ? tickingClock(opts.start ?? START) : manualClock(opts.start ?? START);
    const ids = countingIds();
    // env {} keeps a developer's $CREDENTIALS_DIRECTORY from supplying other keys.
    const services = buildServices({ configPath, clock, ids, log: silentLogger, env: {} });
    return {
      services,
      configPath,
      dir,
      tokens,
      clock,
      ids,
      cleanup: () => {
        services.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** A notice saying everything Shenzhen Art. 14 requires (and the face items when asked). */
export function sampleNoticeContent(o: { faceRecognition?: boolean; retentionDays?: number; handler?: string } = {}): NoticeContent {
  const face = o.faceRecognition ?? false;
  return {
    terms: { handler: o.handler ?? '测试物业 Test Property Co.', purpose: 'public-safety', retentionDays: o.retentionDays ?? 30, faceRecognition: face },
    text: {
      zh: {
        title: '视频监控区域',
        handler: '测试物业',
        contact: '+86 755 0000 0000',
        dataTypes: '图像',
        purpose: '维护公共安全',
        method: '固定摄像机',
        retention: '30天',
        security: '加密存储，访问受限',
        rights: '查阅、复制、删除',
        howToExercise: '扫描二维码或前往服务台',
        ...(face ? { faceNecessity: '门禁需要', faceImpact: '可选择刷卡' } : {}),
      },
      en: {
        title: 'CCTV in operation',
        handler: 'Test Property Co.',
        contact: '+86 755 0000 0000',
        dataTypes: 'Images',
        purpose: 'Public safety',
        method: 'Fixed cameras',
        retention: '30 days',
        security: 'Encrypted, restricted access',
        rights: 'Access, copy, deletion',
        howToExercise: 'Scan the QR code or ask at the desk',
        ...(face ? { faceNecessity: 'Needed for the gate', faceImpact: 'A card works too' } : {}),
      },
    },
    placement: { location: 'Beside the north gate, at eye height', distanceMeters: 2 },
  };
}

/** A small real JPEG, as a camera would send it. */
export async function sampleJpeg(width = 64, height = 48): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 40, g: 120, b: 200 } } }).jpeg({ quality: 80 }).toBuffer();
}

/** A verified notice covering `cameras`, through the register itself (evidence, then verify). */
export async function verifiedNotice(services: AgentServices, cameras: string[], content = sampleNoticeContent()): Promise<string> {
  const n = services.notices.add({ content, cameras }, 'test');
  await services.notices.attachEvidence(n.id, await sampleJpeg(32, 32), 'test');
  services.notices.verify(n.id, 'Inspector Test', 'test');
  return n.id;
}
