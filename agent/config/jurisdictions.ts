import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Type, { type Static } from 'typebox';
import type { ValidateFunction } from 'ajv';
// load-config.js imports this module too; its helpers are only called inside functions here,
// never while the modules are being evaluated, so the cycle is harmless.
import { compileSchema, configInvalid, deepFreeze, problem, readYaml, schemaProblems, type ConfigProblem } from './load-config.js';
import { ID_PATTERN, LOCATION_CLASSES, withDefaultsOptional } from './schema.js';

/**
 * Jurisdiction profiles are data (config/jurisdictions/*.yaml): the rules in force, the
 * numbers they set and the articles to cite. Code reads numbers and citations from here and
 * never hard-codes a legal value.
 */

export const PURPOSES = [
  'public-safety',
  'marketing',
  'footfall-analytics',
  'personalised-signage',
  'membership-recognition',
  'biometric-access',
  'model-training',
  'research',
  'third-party-provision',
] as const;
export type Purpose = (typeof PURPOSES)[number];

export const CITATION_KEYS = [
  'notice',
  'noticeContent',
  'purposeLimitation',
  'separateConsent',
  'privateSpace',
  'pia',
  'retention',
  'faceNotice',
  'auditTrail',
  'encryption',
] as const;
export type CitationKey = (typeof CITATION_KEYS)[number];

const Id = Type.String({ pattern: ID_PATTERN });
const Text = Type.String({ minLength: 1 });
const Count = Type.Integer({ minimum: 1 });

const RuleSchema = Type.Object({ id: Id, summary: Text, citation: Text }, { additionalProperties: false });

const MaxRetentionSchema = Type.Object(
  Object.fromEntries(PURPOSES.map((p) => [p, Count])) as Record<Purpose, typeof Count>,
  { additionalProperties: false },
);

const ParametersSchema = Type.Object(
  {
    noticeReverifyDays: Count,
    maxRetentionDays: MaxRetentionSchema,
    forbiddenLocationClasses: Type.Array(Type.Enum(LOCATION_CLASSES), { uniqueItems: true }),
    piaRetentionYears: Count,
    piaReviewMonths: Count,
    faceFilingThreshold: Count,
    // Not limited to PURPOSES: a law may forbid a use the agent never offers (Tianjin: credit information).
    biometricForbiddenPurposes: Type.Array(Id, { uniqueItems: true }),
  },
  { additionalProperties: false },
);

const CitationsSchema = Type.Object(
  Object.fromEntries(CITATION_KEYS.map((k) => [k, Text])) as Record<CitationKey, typeof Text>,
  { additionalProperties: false },
);

export const JurisdictionProfileSchema = Type.Object(
  {
    id: Id,
    name: Text,
    extends: Type.Optional(Id),
    rules: Type.Array(RuleSchema),
    parameters: ParametersSchema,
    citations: CitationsSchema,
  },
  { additionalProperties: false },
);

export type JurisdictionProfile = Static<typeof JurisdictionProfileSchema>;

/** A profile that extends another may leave out anything its parent sets. */
const ProfileOverlaySchema = Type.Object(
  {
    id: Id,
    name: Text,
    extends: Id,
    rules: Type.Array(RuleSchema, { default: [] }),
    // Type.Partial drops additionalProperties, so each one says it again.
    parameters: Type.Partial(
      Type.Object({
        ...ParametersSchema.properties,
        maxRetentionDays: Type.Partial(MaxRetentionSchema, { additionalProperties: false }),
      }),
      { additionalProperties: false, default: {} },
    ),
    citations: Type.Partial(CitationsSchema, { additionalProperties: false, default: {} }),
  },
  { additionalProperties: false },
);
type ProfileOverlay = Static<typeof ProfileOverlaySchema>;

let validators: { full: ValidateFunction; overlay: ValidateFunction } | undefined;
function validatorsFor(): { full: ValidateFunction; overlay: ValidateFunction } {
  return (validators ??= {
    full: compileSchema(withDefaultsOptional(JurisdictionProfileSchema)),
    overlay: compileSchema(withDefaultsOptional(ProfileOverlaySchema)),
  });
}

/** The repository root: the nearest folder up from this file that holds package.json (works from src and dist). */
export function packageRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${from}`);
    dir = up;
  }
  return dir;
}

export function defaultJurisdictionsDir(): string {
  return join(packageRoot(), 'config', 'jurisdictions');
}

export function listJurisdictions(dir: string = defaultJurisdictionsDir()): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -'.yaml'.length))
    .sort();
}

/** Loads a profile with its `extends` chain merged; validated, deep-frozen. Throws `config.invalid`. */
export function loadJurisdiction(id: string, dir: string = defaultJurisdictionsDir()): JurisdictionProfile {
  return deepFreeze(loadChain(id, resolve(dir), []));
}

function loadChain(id: string, dir: string, chain: string[]): JurisdictionProfile {
  // The id becomes a file name: no path separators, no '..'.
  if (!new RegExp(ID_PATTERN).test(id) || !listJurisdictions(dir).includes(id)) {
    const file = join(dir, `${id}.yaml`);
    throw configInvalid([{ file, path: '', message: `no jurisdiction profile "${id}" in ${dir}` }]);
  }
  const file = join(dir, `${id}.yaml`);
  const source = readYaml(readFileSync(file, 'utf8'), file);
  if (source.problems.length > 0) throw configInvalid(source.problems);
  const data = source.data as Record<string, unknown> | null;
  const isOverlay = data !== null && typeof data === 'object' && 'extends' in data;
  const v = validatorsFor();
  const problems: ConfigProblem[] = schemaProblems(isOverlay ? v.overlay : v.full, data, source);
  if (data?.['id'] !== undefined && data['id'] !== id) {
    problems.push(problem(source, ['id'], `"${id}" (the file name)`, `"${String(data['id'])}"`));
  }
  if (problems.length > 0) throw configInvalid(problems);
  if (!isOverlay) return data as unknown as JurisdictionProfile;

  const overlay = data as unknown as ProfileOverlay;
  if (chain.includes(overlay.extends) || overlay.extends === id) {
    throw configInvalid([problem(source, ['extends'], 'a profile that does not extend this one', [...chain, id, overlay.extends].join(' -> '))]);
  }
  if (!listJurisdictions(dir).includes(overlay.extends)) {
    throw configInvalid([problem(source, ['extends'], `a profile in ${dir}`, `"${overlay.extends}"`)]);
  }
  const merged = merge(loadChain(overlay.extends, dir, [...chain, id]), overlay);
  // The parent may leave gaps only a complete profile would show; check the result as a whole.
  const mergedProblems = schemaProblems(v.full, merged, source).map((p) => ({ ...p, line: undefined }));
  if (mergedProblems.length > 0) throw configInvalid(mergedProblems);
  return merged;
}

/**
 * A child overrides numbers and citations and adds rules (same id: replaced in place).
 * Prohibitions only accumulate: a city profile can add forbidden places or biometric uses
 * but never lift a national one (Measures Art. 13 binds every city).
 */
function merge(parent: JurisdictionProfile, child: ProfileOverlay): JurisdictionProfile {
  const p = parent.parameters;
  const c = child.parameters;
  const union = <T>(a: readonly T[], b: readonly T[] | undefined): T[] => [...new Set([...a, ...(b ?? [])])];
  const childRules = new Map(child.rules.map((r) => [r.id, r]));
  const rules = parent.rules.map((r) => childRules.get(r.id) ?? r);
  for (const r of child.rules) if (!parent.rules.some((q) => q.id === r.id)) rules.push(r);
  return {
    id: child.id,
    name: child.name,
    extends: child.extends,
    rules: rules.map((r) => ({ ...r })),
    parameters: {
      noticeReverifyDays: c.noticeReverifyDays ?? p.noticeReverifyDays,
      maxRetentionDays: { ...p.maxRetentionDays, ...c.maxRetentionDays },
      forbiddenLocationClasses: union(p.forbiddenLocationClasses, c.forbiddenLocationClasses),
      piaRetentionYears: c.piaRetentionYears ?? p.piaRetentionYears,
      piaReviewMonths: c.piaReviewMonths ?? p.piaReviewMonths,
      faceFilingThreshold: c.faceFilingThreshold ?? p.faceFilingThreshold,
      biometricForbiddenPurposes: union(p.biometricForbiddenPurposes, c.biometricForbiddenPurposes),
    },
    citations: { ...parent.citations, ...child.citations },
  };
}
