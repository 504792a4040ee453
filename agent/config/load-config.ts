import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import formats from 'ajv-formats';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { CamwardenError, isCamwardenError } from '../errors.js';
import { defaultJurisdictionsDir, listJurisdictions, loadJurisdiction, type JurisdictionProfile } from './jurisdictions.js';
import { validateMasks } from '../cameras/privacy-mask.js';
import { agentInputSchema, ID_PATTERN, type AgentConfig } from './schema.js';

/** One thing wrong with a config or profile file; `details.problems` of a `config.invalid` error. */
export interface ConfigProblem {
  file?: string;
  /** Key path like `cameras[1].locationClass`; '' for the whole document. */
  path: string;
  line?: number;
  /** The whole human sentence, e.g. `expected integer, found string "thirty"`. */
  message: string;
  expected?: string;
  found?: string;
}

export interface LoadedConfig {
  config: AgentConfig;
  profile: JurisdictionProfile;
  path: string;
}

export interface LoadOptions {
  jurisdictionsDir?: string;
}

type Segment = string | number;

export function loadConfig(path: string, opts: LoadOptions = {}): LoadedConfig {
  const file = resolve(path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : String(error);
    throw configInvalid([{ file, path: '', message: `cannot read config file: ${reason}` }], { cause: error });
  }
  return parseConfigText(text, file, dirname(file), opts);
}

/**
 * Everything `loadConfig` does after reading the file, for tests and `validate-config` on stdin:
 * `sourceName` names the text in messages and becomes `LoadedConfig.path`; `baseDir` anchors
 * relative paths.
 */
export function parseConfigText(text: string, sourceName: string, baseDir: string, opts: LoadOptions = {}): LoadedConfig {
  const source = readYaml(text, sourceName);
  if (source.problems.length > 0) throw configInvalid(source.problems);
  const data = source.data;
  const problems = schemaProblems(validateAgent(), data, source);

  // Semantic checks run on whatever parsed, so one error lists every problem at once.
  const raw = (isRecord(data) ? data : {}) as Record<string, unknown>;
  problems.push(...duplicates(source, raw['cameras'], 'cameras', 'id', 'camera id'));
  // One token under two roles would make its rights ambiguous (least privilege, Shenzhen Art. 11(5)).
  const http = isRecord(raw['http']) ? raw['http'] : {};
  problems.push(...duplicates(source, http['tokens'], 'http.tokens', 'sha256', 'token hash'));
  const site = isRecord(raw['site']) ? raw['site'] : {};
  const jurisdiction = site['jurisdiction'];
  let profile: JurisdictionProfile | undefined;
  if (typeof jurisdiction === 'string' && new RegExp(ID_PATTERN).test(jurisdiction)) {
    const dir = opts.jurisdictionsDir ?? defaultJurisdictionsDir();
    const known = listJurisdictions(dir);
    if (!known.includes(jurisdiction)) {
      problems.push(problem(source, ['site', 'jurisdiction'], `a profile in ${dir} (${known.join(', ') || 'none there'})`, `"${jurisdiction}"`));
    } else {
      try {
        profile = loadJurisdiction(jurisdiction, dir);
      } catch (error) {
        if (!isCamwardenError(error, 'config.invalid')) throw error;
        problems.push(...((error.details as { problems?: ConfigProblem[] } | undefined)?.problems ?? []));
      }
    }
  }
  // Shape is the schema's job; what it cannot say (self-intersection, zero area, duplicate names) is checked here.
  if (Array.isArray(raw['cameras'])) {
    raw['cameras'].forEach((camera, i) => {
      const masks = isRecord(camera) ? camera['privacyMasks'] : undefined;
      const at = `cameras[${i}].privacyMasks`;
      if (masks === undefined || problems.some((p) => p.path.startsWith(at))) return;
      try {
        validateMasks(masks, at);
      } catch (error) {
        if (!isCamwardenError(error)) throw error;
        problems.push({ file: source.name, path: error.field ?? at, line: lineOf(source, ['cameras', i, 'privacyMasks']), message: error.message });
      }
    });
  }
  problems.push(...sourceProblems(source, raw['cameras']));
  const capture = isRecord(raw['capture']) ? raw['capture'] : {};
  const retentionDays = capture['retentionDays'];
  const maxDays = profile?.parameters.maxRetentionDays['public-safety'];
  // Shenzhen Art. 11(4), PIPL Art. 19: storage no longer than the purpose needs; the profile sets the cap.
  if (profile && maxDays !== undefined && Number.isInteger(retentionDays) && (retentionDays as number) > maxDays) {
    problems.push(
      problem(source, ['capture', 'retentionDays'], `at most ${maxDays} days (profile ${profile.id}, ${profile.citations.retention})`, `${retentionDays}`),
    );
  }

  if (problems.length > 0 || profile === undefined) throw configInvalid(problems);
  const config = data as AgentConfig;
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));
  config.agent.dataDir = abs(config.agent.dataDir);
  config.agent.keysDir = abs(config.agent.keysDir);
  if (config.http.tls) config.http.tls = { certFile: abs(config.http.tls.certFile), keyFile: abs(config.http.tls.keyFile) };
  for (const camera of config.cameras) if (camera.onvif) camera.onvif.passwordFile = abs(camera.onvif.passwordFile);
  return deepFreeze({ config, profile, path: sourceName });
}

// ---- shared with jurisdictions.ts: YAML with line numbers, schema errors in words ----

/** A frame source needs somewhere to get frames from: ONVIF, an explicit URL, or a push token. */
function sourceProblems(source: YamlSource, cameras: unknown): ConfigProblem[] {
  if (!Array.isArray(cameras)) return [];
  const out: ConfigProblem[] = [];
  cameras.forEach((c, i) => {
    if (!isRecord(c) || !isRecord(c['source'])) return;
    const mode = c['source']['mode'];
    if (mode === 'push' && !isRecord(c['push'])) {
      out.push(problem(source, ['cameras', i, 'source', 'mode'], 'a push.tokenSha256 for a camera that pushes (camwarden token create --camera ID)', 'no push token'));
    }
    if (mode === 'snapshot' && !isRecord(c['onvif']) && c['source']['snapshotUrl'] === undefined) {
      out.push(problem(source, ['cameras', i, 'source', 'mode'], 'an onvif section or source.snapshotUrl', 'neither'));
    }
    if (mode === 'rtsp' && !isRecord(c['onvif']) && c['source']['rtspUrl'] === undefined) {
      out.push(problem(source, ['cameras', i, 'source', 'mode'], 'an onvif section or source.rtspUrl', 'neither'));
    }
  });
  return out;
}

export interface YamlSource {
  name: string;
  data: unknown;
  doc: Document.Parsed;
  lines: LineCounter;
  problems: ConfigProblem[];
}

export function readYaml(text: string, name: string): YamlSource {
  const lines = new LineCounter();
  // prettyErrors off: our own line numbers, no source excerpt inside each message.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const problems: ConfigProblem[] = doc.errors.map((e) => ({
    file: name,
    path: '',
    line: lines.linePos(e.pos[0]).line,
    message: `YAML syntax: ${e.message}`,
  }));
  return { name, data: problems.length > 0 ? undefined : doc.toJS({ maxAliasCount: 100 }), doc, lines, problems };
}

let ajv: Ajv | undefined;
/** One Ajv for every schema: all errors at once, defaults filled in, the values the error talks about. */
export function compileSchema(schema: object): ValidateFunction {
  if (ajv === undefined) {
    ajv = new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: true });
    formats.default(ajv);
  }
  return ajv.compile(schema);
}

let agentValidator: ValidateFunction | undefined;
function validateAgent(): ValidateFunction {
  return (agentValidator ??= compileSchema(agentInputSchema()));
}

/** Runs `validate` (which fills in defaults) and turns its errors into one problem per key path. */
export function schemaProblems(validate: ValidateFunction, data: unknown, source: YamlSource): ConfigProblem[] {
  if (validate(data)) return [];
  const byPath = new Map<string, ConfigProblem>();
  for (const error of validate.errors ?? []) {
    const p = describeError(error, source);
    if (!byPath.has(p.path)) byPath.set(p.path, p);
  }
  return [...byPath.values()];
}

function describeError(e: ErrorObject, source: YamlSource): ConfigProblem {
  const at = pointerToSegments(e.instancePath);
  const params = e.params as Record<string, unknown>;
  const parent = (e.parentSchema ?? {}) as Record<string, unknown>;
  const props = (parent['properties'] ?? {}) as Record<string, Record<string, unknown>>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(params['additionalProperty']);
      return problem(source, [...at, key], `one of ${Object.keys(props).join(', ')}`, `unknown key "${key}"`);
    }
    case 'required': {
      const key = String(params['missingProperty']);
      // The key is absent, so the line is its parent's.
      return problem(source, [...at, key], schemaWords(props[key] ?? {}), 'nothing (the key is missing)');
    }
    case 'type':
      return problem(source, at, typeWords(String(params['type'])), valueWords(e.data));
    case 'enum':
      return problem(source, at, `one of ${(params['allowedValues'] as unknown[]).join(', ')}`, valueWords(e.data));
    case 'pattern':
      return problem(source, at, patternWords(String(params['pattern'])), valueWords(e.data));
    case 'format':
      return problem(source, at, `a ${String(params['format'])} such as https://example.org/rights`, valueWords(e.data));
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return problem(source, at, `${typeWords(String(parent['type']))} ${String(params['comparison'])} ${String(params['limit'])}`, valueWords(e.data));
    case 'minLength':
      return problem(source, at, params['limit'] === 1 ? 'a non-empty string' : `at least ${String(params['limit'])} characters`, valueWords(e.data));
    case 'uniqueItems':
      return problem(source, at, 'no repeated items', `items ${String(params['j'])} and ${String(params['i'])} equal`);
    default:
      return { file: source.name, path: pathText(at), line: lineOf(source, at), message: e.message ?? e.keyword };
  }
}

export function problem(source: YamlSource, at: Segment[], expected: string, found: string): ConfigProblem {
  return {
    file: source.name,
    path: pathText(at),
    line: lineOf(source, at),
    message: `expected ${expected}, found ${found}`,
    expected,
    found,
  };
}

/**
 * Line (1-based) of the key at `at` (of the item, in a list), or of its nearest ancestor
 * present in the file: a missing key, a default or a `<<` merge has no line of its own.
 */
export function lineOf(source: YamlSource, at: Segment[]): number | undefined {
  let node: unknown = source.doc.contents;
  let line: number | undefined;
  for (const seg of at) {
    if (isAlias(node)) node = node.resolve(source.doc);
    let next: unknown;
    let keyNode: Node | undefined;
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (pair === undefined) break;
      keyNode = pair.key as Node;
      next = pair.value;
    } else if (isSeq(node)) {
      next = node.items[Number(seg)];
      if (next === undefined) break;
    } else break;
    const anchor = keyNode ?? (next as Node | null);
    if (anchor?.range) line = source.lines.linePos(anchor.range[0]).line;
    node = next;
  }
  return line;
}

function duplicates(source: YamlSource, list: unknown, listPath: string, key: string, what: string): ConfigProblem[] {
  if (!Array.isArray(list)) return [];
  const first = new Map<string, number>();
  const out: ConfigProblem[] = [];
  const base = listPath.split('.');
  list.forEach((item, i) => {
    const value = isRecord(item) ? item[key] : undefined;
    if (typeof value !== 'string') return;
    const seen = first.get(value);
    if (seen === undefined) first.set(value, i);
    else out.push(problem(source, [...base, i, key], `a unique ${what}`, `"${value}", already used by ${listPath}[${seen}]`));
  });
  return out;
}

export function configInvalid(problems: ConfigProblem[], opts: { cause?: unknown } = {}): CamwardenError {
  const sorted = [...problems].sort((a, b) => (a.file ?? '').localeCompare(b.file ?? '') || (a.line ?? 1e9) - (b.line ?? 1e9));
  const lines = sorted.map(
    (p) => `  ${p.file ?? ''}${p.line === undefined ? '' : `:${p.line}`} ${p.path === '' ? '(document)' : p.path}: ${p.message}`,
  );
  const count = sorted.length === 1 ? '1 problem' : `${sorted.length} problems`;
  return new CamwardenError('config.invalid', `invalid configuration, ${count}:\n${lines.join('\n')}`, {
    field: sorted[0]?.path,
    details: { problems: sorted },
    cause: opts.cause,
  });
}

export function pathText(at: Segment[]): string {
  return at.reduce<string>((acc, seg) => (/^\d+$/.test(String(seg)) ? `${acc}[${seg}]` : acc === '' ? String(seg) : `${acc}.${seg}`), '');
}

function pointerToSegments(pointer: string): Segment[] {
  if (pointer === '') return [];
  return pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function typeWords(type: string): string {
  return ({ object: 'a mapping (key: value lines)', array: 'a list' } as Record<string, string>)[type] ?? type;
}

function schemaWords(schema: Record<string, unknown>): string {
  if (Array.isArray(schema['enum'])) return `one of ${schema['enum'].join(', ')}`;
  return typeof schema['type'] === 'string' ? typeWords(schema['type']) : 'a value';
}

function patternWords(pattern: string): string {
  if (pattern === ID_PATTERN) return 'an id of 2-63 lowercase letters, digits or hyphens, not starting with a hyphen';
  if (pattern === '^https?://') return 'an http:// or https:// address';
  if (pattern === '^[0-9a-f]{64}$') return '64 lowercase hex digits (a SHA-256)';
  return `a string matching ${pattern}`;
}

export function valueWords(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value)}`;
  if (typeof value === 'number') return `${Number.isInteger(value) ? 'integer' : 'number'} ${value}`;
  return `${typeof value} ${String(value)}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Validate-then-freeze: nothing downstream can change what was checked. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
