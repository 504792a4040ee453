import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { isMap, isSeq, parseDocument } from 'yaml';
import { CamwardenError } from '../errors.js';
import { parseConfigText } from './load-config.js';

export interface CameraToAdd {
  /** ONVIF device service URL. */
  url: string;
  name?: string;
  model?: string;
  serial?: string;
  endpoint: string;
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40);
}

/**
 * Adds discovered cameras to the config file, keeping its comments and layout. They are added
 * disabled: a camera captures only once an operator has placed it and a notice covers it
 * (PIPL Art. 26). The result is validated whole before the file is replaced atomically.
 */
export function addCamerasToConfig(
  configPath: string,
  found: readonly CameraToAdd[],
  credentials: { username: string; passwordFile: string },
): { added: string[]; skipped: string[] } {
  const text = readFileSync(configPath, 'utf8');
  const doc = parseDocument(text);
  const cameras = doc.get('cameras');
  if (!isSeq(cameras)) throw new CamwardenError('config.invalid', `${configPath}: cameras is not a list`, { field: 'cameras' });
  const existing = cameras.items.filter(isMap);
  const ids = new Set(existing.map((c) => String(c.get('id'))));
  const urls = new Set(existing.map((c) => String(c.getIn(['onvif', 'url']))));
  const added: string[] = [];
  const skipped: string[] = [];
  for (const cam of found) {
    if (urls.has(cam.url)) {
      skipped.push(cam.url);
      continue;
    }
    const base = `cam-${slug(cam.model ?? cam.name ?? 'onvif') || 'onvif'}-${slug(cam.serial ?? cam.endpoint).slice(-6) || 'x'}`;
    let id = base;
    for (let n = 2; ids.has(id); n++) id = `${base}-${n}`;
    ids.add(id);
    urls.add(cam.url);
    const node = doc.createNode({
      id,
      name: cam.name ?? cam.model ?? id,
      location: `discovered at ${new URL(cam.url).host}: describe where it is`,
      locationClass: 'other-public',
      enabled: false,
      onvif: { url: cam.url, username: credentials.username, passwordFile: relative(dirname(configPath), credentials.passwordFile) || credentials.passwordFile },
    });
    node.commentBefore = ` discovered ${new Date().toISOString().slice(0, 10)}; disabled until it is placed and a notice covers it`;
    cameras.items.push(node);
    added.push(id);
  }
  if (added.length === 0) return { added, skipped };
  const next = doc.toString();
  parseConfigText(next, configPath, dirname(configPath));
  const temp = `${configPath}.tmp-${process.pid}`;
  writeFileSync(temp, next, { mode: statSync(configPath).mode & 0o777 });
  renameSync(temp, configPath);
  return { added, skipped };
}
