import Type, { type Static, type TSchema } from 'typebox';

/**
 * The agent config: the one TypeBox schema the TypeScript type, the validator and
 * config/agent.schema.json (for editors and CI) all come from.
 *
 * A key with a default is required in the TypeBox schema, so `AgentConfig` describes the
 * config after loading, when every default is filled in. `agentInputSchema()` is the
 * schema of the file a person writes: the same schema with defaulted keys no longer
 * required. It is what the loader validates and what gen-schema writes to disk.
 */

export const ID_PATTERN = '^[a-z0-9][a-z0-9-]{1,62}$';
export const SHA256_PATTERN = '^[0-9a-f]{64}$';

export const LOCATION_CLASSES = [
  'entrance',
  'street',
  'square',
  'lobby',
  'corridor',
  'car-park',
  'platform',
  'shop-floor',
  'other-public',
  // Private spaces are listed so a profile can forbid them by name (Measures Art. 13);
  // the config accepts them and the profile decides.
  'hotel-room',
  'toilet',
  'changing-room',
  'dormitory',
  'private-residence',
] as const;
export type LocationClass = (typeof LOCATION_CLASSES)[number];

export const ROLES = ['operator', 'security', 'gate', 'kiosk', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const Id = (description: string) => Type.String({ pattern: ID_PATTERN, description });
const Text = (description: string) => Type.String({ minLength: 1, description });
const Path = (description: string) => Type.String({ minLength: 1, description });

const AgentSection = Type.Object(
  {
    id: Id('Agent id; an MQTT topic segment and part of every signed report.'),
    region: Id('Region; the MQTT topic segment above the site.'),
    dataDir: Path('Database and encrypted images. Relative paths resolve against this file’s folder.'),
    keysDir: Path('Signing and data keys, read after $CREDENTIALS_DIRECTORY. Relative to this file’s folder.'),
    logLevel: Type.Enum(LOG_LEVELS, { default: 'info' }),
  },
  { additionalProperties: false },
);

const SiteSection = Type.Object(
  {
    id: Id('Site id; an MQTT topic segment.'),
    name: Text('Name of the public place, as printed on signs.'),
    address: Text('Street address, as printed on signs.'),
    // Shenzhen Art. 14(1): the sign names the data handler and how to contact it.
    operator: Type.Object(
      {
        name: Text('The personal-information handler, as printed on signs.'),
        contact: Text('How people reach the handler (phone, e-mail, desk).'),
      },
      { additionalProperties: false },
    ),
    jurisdiction: Id('Name of a profile in config/jurisdictions/, e.g. cn-shenzhen.'),
    filingRef: Type.Optional(Text('Registry or CAC filing reference, once there is one.')),
    rightsUrl: Type.String({
      format: 'uri',
      pattern: '^https?://',
      description: 'The rights page; the QR code on every sign points here.',
    }),
  },
  { additionalProperties: false },
);

const CaptureSection = Type.Object(
  {
    retentionDays: Type.Integer({
      minimum: 1,
      maximum: 3650,
      description: 'Days a public-safety image is kept; at most the profile’s maxRetentionDays.public-safety.',
    }),
    maxBytes: Type.Integer({ minimum: 1024, maximum: 268_435_456, default: 16_777_216 }),
    maxWidth: Type.Integer({ minimum: 1, maximum: 65_535, default: 8192 }),
    maxHeight: Type.Integer({ minimum: 1, maximum: 65_535, default: 8192 }),
    blockedReportSeconds: Type.Integer({
      minimum: 1,
      maximum: 86_400,
      default: 60,
      description: 'At most one capture-blocked audit entry per camera in this many seconds.',
    }),
  },
  { additionalProperties: false },
);

const RetentionSection = Type.Object(
  { purgeEveryMinutes: Type.Integer({ minimum: 1, maximum: 1440, default: 60 }) },
  { additionalProperties: false, default: {} },
);

const CameraSchema = Type.Object(
  {
    id: Id('Camera id, unique in this file.'),
    name: Type.Optional(Text('Short label for operators.')),
    location: Text('Where the camera is, in words; printed on its sign.'),
    locationClass: Type.Enum(LOCATION_CLASSES),
    enabled: Type.Boolean({ default: true }),
    faceRecognition: Type.Boolean({ default: false }),
    // Measures Art. 13: a defined collection area. Polygons in normalised frame coordinates
    // (0..1, x right, y down) covering what must never be captured: a neighbour's window.
    privacyMasks: Type.Optional(
      Type.Array(
        Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 64 }),
            points: Type.Array(Type.Tuple([Type.Number({ minimum: 0, maximum: 1 }), Type.Number({ minimum: 0, maximum: 1 })]), { minItems: 3, maxItems: 256 }),
          },
          { additionalProperties: false },
        ),
        { maxItems: 64, description: 'Applied by the camera when it supports ONVIF Media2 masks, else burnt in by the agent before anything is stored.' },
      ),
    ),
    onvif: Type.Optional(
      Type.Object(
        {
          url: Type.String({ format: 'uri', pattern: '^https?://', description: 'Device service URL, e.g. http://192.0.2.10/onvif/device_service.' }),
          username: Type.String({ minLength: 1, maxLength: 128 }),
          // The secret lives in its own file (mode 0600), not in the config that operators share.
          passwordFile: Path('File holding the camera password (first line). Relative to this file’s folder.'),
        },
        { additionalProperties: false, description: 'ONVIF device: inventory, stream and snapshot URIs, masks, clock.' },
      ),
    ),
    source: Type.Optional(
      Type.Union(
        [
          Type.Object(
            { mode: Type.Literal('snapshot'), intervalSeconds: Type.Number({ minimum: 0.2, maximum: 3600 }), snapshotUrl: Type.Optional(Type.String({ format: 'uri', pattern: '^https?://' })) },
            { additionalProperties: false },
          ),
          Type.Object(
            { mode: Type.Literal('rtsp'), fps: Type.Number({ minimum: 0.1, maximum: 30 }), rtspUrl: Type.Optional(Type.String({ format: 'uri', pattern: '^rtsps?://' })) },
            { additionalProperties: false },
          ),
          Type.Object({ mode: Type.Literal('push') }, { additionalProperties: false }),
        ],
        { description: 'Where frames come from: snapshot polling, RTSP frames through ffmpeg, or camera push.' },
      ),
    ),
    push: Type.Optional(
      Type.Object(
        {
          tokenSha256: Type.String({
            pattern: SHA256_PATTERN,
            description: 'SHA-256 of the token this camera sends with POST /v1/cameras/:id/frames (camwarden token create --camera ID).',
          }),
        },
        { additionalProperties: false, description: 'Camera push: the camera posts a snapshot on an event.' },
      ),
    ),
  },
  { additionalProperties: false },
);

const TokenSchema = Type.Object(
  {
    role: Type.Enum(ROLES),
    sha256: Type.String({
      pattern: SHA256_PATTERN,
      description: 'SHA-256 (lowercase hex) of the bearer token; the token itself never appears here.',
    }),
    name: Type.Optional(Text('Who or what holds the token.')),
  },
  { additionalProperties: false },
);

const HttpSection = Type.Object(
  {
    host: Type.String({ minLength: 1, default: '127.0.0.1' }),
    port: Type.Integer({ minimum: 0, maximum: 65_535, default: 8640, description: '0 picks a free port (tests).' }),
    tls: Type.Optional(
      Type.Object(
        { certFile: Path('PEM certificate.'), keyFile: Path('PEM private key.') },
        { additionalProperties: false },
      ),
    ),
    tokens: Type.Array(TokenSchema, { default: [] }),
  },
  { additionalProperties: false, default: {} },
);

const OnvifSection = Type.Object(
  {
    timeoutMs: Type.Integer({ minimum: 100, maximum: 60_000, default: 5000, description: 'Bound on every request to a camera.' }),
    refreshMinutes: Type.Number({ minimum: 0.1, maximum: 1440, default: 15, description: 'Inventory refresh and mask check interval.' }),
    healthSeconds: Type.Number({ minimum: 1, maximum: 3600, default: 30, description: 'Between refreshes, how often each camera is asked its time (liveness and clock drift).' }),
    driftThresholdSeconds: Type.Number({ minimum: 0.5, maximum: 3600, default: 5, description: 'Clock drift beyond this is a camera-health event.' }),
    discoveryInterface: Type.Optional(Type.String({ minLength: 1, description: 'Interface name or IPv4 address for WS-Discovery probes.' })),
  },
  { additionalProperties: false, default: {} },
);

export const AgentConfigSchema = Type.Object(
  {
    agent: AgentSection,
    site: SiteSection,
    capture: CaptureSection,
    retention: RetentionSection,
    cameras: Type.Array(CameraSchema),
    onvif: OnvifSection,
    http: HttpSection,
  },
  { additionalProperties: false, title: 'camwarden agent config' },
);

export type AgentConfig = Static<typeof AgentConfigSchema>;
export type CameraConfig = AgentConfig['cameras'][number];
export type TokenConfig = AgentConfig['http']['tokens'][number];

type JsonSchema = { [key: string]: unknown };

/** Makes every key that has a default optional, at every depth; returns plain JSON. */
export function withDefaultsOptional(schema: TSchema): JsonSchema {
  const copy = JSON.parse(JSON.stringify(schema)) as JsonSchema;
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (node === null || typeof node !== 'object') return;
    const obj = node as JsonSchema;
    const props = obj['properties'] as Record<string, JsonSchema> | undefined;
    if (props !== undefined && Array.isArray(obj['required'])) {
      obj['required'] = (obj['required'] as string[]).filter((k) => props[k]?.['default'] === undefined);
      if ((obj['required'] as string[]).length === 0) delete obj['required'];
    }
    Object.values(obj).forEach(visit);
  };
  visit(copy);
  return copy;
}

/** The schema of the YAML file as a person writes it (defaults optional). */
export function agentInputSchema(): JsonSchema {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    ...withDefaultsOptional(AgentConfigSchema),
  };
}

/** The exact text of config/agent.schema.json: stable key order, two-space indent, final newline. */
export function renderAgentSchemaFile(): string {
  return `${JSON.stringify(agentInputSchema(), null, 2)}\n`;
}
