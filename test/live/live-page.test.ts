import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CameraSimulator } from '../fixtures/camera-simulator/index.js';
import { verifiedNotice } from '../helpers/agent-env.js';
import { CAM, makeLiveEnv, startSimulator, streamUrlOf, type LiveEnv } from './live-env.js';

/*
 * The operator page end to end: a real Chromium loads /live from the agent, buys a ticket with
 * the security token, decodes the relayed stream with JSMpeg, and shows why the session ended.
 */
const CHROMIUM = '/usr/bin/chromium';

/** The little of the DOM the page functions below touch (the project's tsconfig has no DOM lib). */
interface Canvas { width: number; height: number; getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null }
declare const document: { body: { dataset: Record<string, string | undefined> }; getElementById(id: string): unknown };

describe.skipIf(!existsSync(CHROMIUM))('the live view page in Chromium', () => {
  let sim: CameraSimulator;
  let browser: Browser;
  let le: LiveEnv;

  beforeAll(async () => {
    sim = await startSimulator();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await le?.close();
    await sim?.stop();
  });

  async function openPage(query: string, console: string[]): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
    page.on('console', (m) => console.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => console.push(`pageerror: ${e.message}`));
    await page.goto(`${le.base}/live?${query}`);
    await page.fill('#token', le.env.tokens.security);
    await page.click('#watch');
    return page;
  }

  it('shows the camera live to the security token and says the session ended because the notice was withdrawn', async () => {
    le = await makeLiveEnv(async () => streamUrlOf(sim));
    const notice = await verifiedNotice(le.env.services, [CAM]);
    const logs: string[] = [];

    // 2D canvas (gl=0) so the test can read the pixels back.
    const page = await openPage(`camera=${CAM}&gl=0`, logs);
    await page.waitForFunction(() => document.body.dataset['state'] === 'playing', null, { timeout: 15_000 });
    const firstFrameMs = Number(await page.getAttribute('#status', 'data-first-frame-ms'));
    console.log(`live view page: first decoded picture ${firstFrameMs} ms after Watch`);
    await page.waitForTimeout(300);
    const pixels = await page.evaluate(() => {
      const c = document.getElementById('video') as Canvas;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      const colours = new Set<number>();
      let min = 255;
      let max = 0;
      for (let i = 0; i < d.length; i += 4 * 97) {
        const y = (d[i]! * 299 + d[i + 1]! * 587 + d[i + 2]! * 114) / 1000;
        min = Math.min(min, y);
        max = Math.max(max, y);
        colours.add((d[i]! >> 4 << 8) | (d[i + 1]! >> 4 << 4) | (d[i + 2]! >> 4));
      }
      return { width: c.width, height: c.height, min, max, colours: colours.size };
    });
    expect(pixels).toMatchObject({ width: 640, height: 360 });
    expect(pixels.max - pixels.min).toBeGreaterThan(100); // a test pattern, not a blank or grey canvas
    expect(pixels.colours).toBeGreaterThan(20);
    expect(await page.textContent('#status')).toContain(`Live: camera ${CAM}`);

    // A second page with the default renderer (WebGL when there is one) joins the same ffmpeg.
    const glPage = await openPage(`camera=${CAM}`, logs);
    await glPage.waitForFunction(() => document.body.dataset['state'] === 'playing', null, { timeout: 15_000 });
    await glPage.waitForTimeout(300);
    console.log(`live view page: a second viewer's first picture ${await glPage.getAttribute('#status', 'data-first-frame-ms')} ms after Watch`);
    const shot = await sharp(await glPage.locator('#video').screenshot()).greyscale().stats();
    expect(shot.channels[0]!.max - shot.channels[0]!.min).toBeGreaterThan(100);
    expect(le.live.relays()).toEqual([expect.objectContaining({ camera: CAM, viewers: 2 })]);

    const t0 = performance.now();
    le.env.services.notices.withdraw(notice, 'sign taken down', 'test');
    await page.waitForFunction(() => document.body.dataset['state'] === 'ended', null, { timeout: 5_000 });
    console.log(`live view page: withdraw -> page shows the cut in ${(performance.now() - t0).toFixed(0)} ms`);
    expect(await page.getAttribute('#status', 'data-reason')).toBe('notice-withdrawn');
    expect(await page.textContent('#status')).toMatch(/notice .* was withdrawn/);
    await glPage.waitForFunction(() => document.body.dataset['state'] === 'ended', null, { timeout: 5_000 });
    expect(await glPage.getAttribute('#status', 'data-reason')).toBe('notice-withdrawn');
    // Nothing of the picture stays on screen.
    const after = await page.evaluate(() => {
      const c = document.getElementById('video') as Canvas;
      const ctx = c.getContext('2d')!;
      return ctx.getImageData(0, 0, c.width, c.height).data.some((v, i) => i % 4 !== 3 && v !== 0);
    });
    expect(after).toBe(false);

    // Watching again is refused with the reason.
    await page.click('#watch');
    await page.waitForFunction(() => document.body.dataset['state'] === 'error', null, { timeout: 5_000 });
    expect(await page.textContent('#status')).toContain('notice.missing');

    const ends = le.liveAudit().filter((x) => x.action === 'live.end');
    expect(ends.map((x) => x.detail['reason'])).toEqual(['notice-withdrawn', 'notice-withdrawn']);
    expect(logs.filter((l) => /pageerror|Refused to (load|execute|connect)/.test(l))).toEqual([]);
  });
});
