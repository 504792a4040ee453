import { createHash, sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJson } from '../canonical-json.js';
import { CamwardenError } from '../errors.js';
import { walkJpeg, walkJpegHeaders, XMP_APP1_HEADER, type JpegInfo } from './jpeg-walk.js';

/**
 * The purpose tag: one signed XMP packet spliced into the JPEG as a single APP1 segment, so the
 * evidence bytes are never re-encoded and removing the segment gives the camera's bytes back.
 *
 * Camera XMP: a JPEG holds one standard XMP packet (a second one is "Duplicate XMP" to
 * validators), so our segment replaces the camera's in place. It carries the camera's segment
 * as base64 (camwarden:SourceXmp, for a byte-exact untag) and, when it fits and cannot clash
 * with our properties, the camera's rdf:Description elements verbatim so viewers still show them.
 *
 * The packet is a deterministic function of (fields, signature, camera segment): verification
 * re-tags the recovered original and compares whole files, so no byte of the file is unchecked.
 */
export const TAG_NS = 'https://camwarden.org/ns/tag/1.0/';
export const DPV_PUBLIC_SECURITY = 'https://w3id.org/dpv#ProtectionOfPublicSecurity';
export const DMI_PROHIBITED = 'http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED';
const RDF_NS = 'http://www.w3.org/1999/02/22-rdf-syntax-ns#';
const X_NS = 'adobe:ns:meta/';
const NAMESPACES = [
  ['camwarden', TAG_NS],
  ['xmpRights', 'http://ns.adobe.com/xap/1.0/rights/'],
  ['plus', 'http://ns.useplus.org/ldf/xmp/1.0/'],
  ['dc', 'http://purl.org/dc/elements/1.1/'],
  ['xmp', 'http://ns.adobe.com/xap/1.0/'],
] as const;
/** APP1 payload limit (65535 minus the length field) minus the XMP header. */
export const MAX_XMP_PACKET = 0xffff - 2 - XMP_APP1_HEADER.length;

export interface TagFields {
  imageId: string;
  purpose: 'public-safety';
  /** https://w3id.org/dpv#ProtectionOfPublicSecurity */
  dpvPurpose: string;
  /** e.g. "PIPL Art. 26" */
  legalBasis: string;
  legalBasisText: string;
  camera: string;
  notice: string;
  agent: string;
  site: string;
  /** ISO 8601 UTC */
  capturedAt: string;
  /** Hex SHA-256 of the camera's original bytes. */
  originalSha256: string;
  keyId: string;
  usageTermsZh: string;
  usageTermsEn: string;
}

export interface ReadTag {
  fields: TagFields;
  signature: string;
  /** The camera's own XMP segment (from its 0xFF byte) that our segment replaced. */
  sourceXmp?: Buffer;
  /** Our APP1 segment in the tagged file. */
  segment: { offset: number; length: number };
}

export type TamperReason = 'malformed-tag' | 'unknown-key' | 'bad-signature' | 'hash-mismatch' | 'original-invalid' | 'not-canonical';

export interface TagVerification {
  status: 'valid' | 'tampered' | 'untagged';
  reason?: TamperReason | 'not-jpeg';
  fields?: TagFields;
  originalSha256?: string;
}

/** XMP property name of each field, in packet order; the mapped type keeps it complete. */
const PROPERTY: { readonly [K in keyof TagFields]: string } = {
  imageId: 'ImageId', purpose: 'Purpose', dpvPurpose: 'DpvPurpose', legalBasis: 'LegalBasis',
  legalBasisText: 'LegalBasisText', camera: 'Camera', notice: 'Notice', agent: 'Agent', site: 'Site',
  capturedAt: 'CapturedAt', originalSha256: 'OriginalSha256', keyId: 'KeyId',
  usageTermsZh: 'UsageTermsZh', usageTermsEn: 'UsageTermsEn',
};
const FIELD_KEYS = Object.keys(PROPERTY) as (keyof TagFields)[];
const FIELD_OF = new Map<string, keyof TagFields>(FIELD_KEYS.map((k) => [PROPERTY[k], k]));

// XML 1.0 forbids these even as character references; lone surrogates cannot be UTF-8 encoded.
const UNREPRESENTABLE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|\p{Cs}/u;

/**
 * The signed bytes: UTF-8 of the fields as one flat JSON object, keys sorted by UTF-16 code
 * units, no whitespace, every value a string (RFC 8785 for this shape), through canonicalJson.
 * Only the TagFields keys are taken, so extra properties on the object never change it.
 */
export function canonicalTagPayload(f: TagFields): Buffer {
  const picked: Record<string, string> = {};
  for (const key of FIELD_KEYS) {
    const value: unknown = f[key];
    if (typeof value !== 'string' || UNREPRESENTABLE.test(value)) {
      throw new CamwardenError('input.invalid', `tag field ${key} must be a string of XML characters`, { field: key });
    }
    picked[key] = value;
  }
  // PIPL Art. 26: images from public-place cameras are for public safety only.
  if (picked.purpose !== 'public-safety') throw new CamwardenError('input.invalid', 'tag purpose must be public-safety', { field: 'purpose' });
  return Buffer.from(canonicalJson(picked), 'utf8');
}

export function signTag(f: TagFields, privateKey: KeyObject): string {
  return signPayload(canonicalTagPayload(f), privateKey);
}

function signPayload(payload: Buffer, privateKey: KeyObject): string {
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new CamwardenError('keys.invalid', 'image tags are signed with an Ed25519 key');
  return sign(null, payload, privateKey).toString('base64');
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\r': '&#xD;' };
const escapeXml = (s: string): string => s.replace(/[&<>"\r]/g, (c) => ESCAPES[c]!);
const UNESCAPES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#xD;': '\r' };
const unescapeXml = (s: string): string => s.replace(/&(?:amp|lt|gt|quot|#xD);/g, (e) => UNESCAPES[e]!);

/** `cameraXmp` is the camera's whole APP1 XMP segment (JpegInfo.xmp), not just its packet. */
export function buildXmpPacket(f: TagFields, signature: string, cameraXmp?: Buffer): Buffer {
  canonicalTagPayload(f); // same validation as the signed bytes
  return renderXmpPacket(f, signature, cameraXmp);
}

function renderXmpPacket(f: TagFields, signature: string, cameraXmp: Buffer | undefined): Buffer {
  const source = cameraXmp?.toString('base64');
  const carried = cameraXmp === undefined ? undefined : cameraDescriptions(cameraXmp);
  // Verbatim camera fields are a courtesy to viewers; the base64 copy is what keeps us lossless.
  for (const verbatim of carried === undefined ? [undefined] : [carried, undefined]) {
    const packet = Buffer.from(renderPacket(f, signature, source, verbatim), 'utf8');
    if (packet.length <= MAX_XMP_PACKET) return packet;
  }
  throw new CamwardenError('xmp.too-large', `the tag with the camera's XMP (${cameraXmp?.length ?? 0} bytes) exceeds one APP1 segment`);
}

interface Carried {
  declarations: string;
  content: string;
}

const ATTRS = `((?:[^>"']|"[^"]*"|'[^']*')*)`;
const RDF_ELEMENT = new RegExp(`<rdf:RDF\\b${ATTRS}>([\\s\\S]*)</rdf:RDF\\s*>`);
const XMPMETA_START = new RegExp(`<x:xmpmeta\\b${ATTRS}>`);
const XMLNS = /\bxmlns(?::([\w.-]+))?\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
// Properties we write: a second value from the camera would be a conflicting duplicate.
const CLASHES = /:(?:UsageTerms|Marked|DataMining|rights|MetadataDate)\b/;

function cameraDescriptions(segment: Buffer): Carried | undefined {
  const start = 4 + XMP_APP1_HEADER.length;
  const text = segment.toString('utf8', start);
  if (!Buffer.from(text, 'utf8').equals(segment.subarray(start))) return undefined; // not UTF-8
  // An already tagged image keeps its old tag only inside SourceXmp, so readTag sees one tag.
  if (text.includes('camwarden')) return undefined;
  const rdf = RDF_ELEMENT.exec(text);
  if (rdf === null || CLASHES.test(rdf[2]!)) return undefined;
  const declared = new Map<string, string>();
  const ancestors = [XMPMETA_START.exec(text.slice(0, rdf.index))?.[1] ?? '', rdf[1]!];
  for (const attrs of ancestors) {
    for (const d of attrs.matchAll(XMLNS)) declared.set(d[1] ?? '', d[2] ?? d[3] ?? '');
  }
  if ((declared.get('rdf') ?? RDF_NS) !== RDF_NS || (declared.get('x') ?? X_NS) !== X_NS) return undefined;
  declared.delete('rdf');
  declared.delete('x');
  // Declarations the camera made on its ancestors move to our rdf:RDF; our own prefixes are
  // declared on our rdf:Description, so a camera prefix of the same name cannot capture them.
  const declarations = [...declared].map(([p, uri]) => ` xmlns${p === '' ? '' : `:${p}`}="${escapeXml(uri)}"`).join('');
  return { declarations, content: rdf[2]! };
}

function renderPacket(f: TagFields, signature: string, source: string | undefined, carried: Carried | undefined): string {
  const property = (name: string, value: string): string => `   <camwarden:${name}>${escapeXml(value)}</camwarden:${name}>`;
  const alt = (en: string, zh?: string): string =>
    `<rdf:Alt><rdf:li xml:lang="x-default">${escapeXml(en)}</rdf:li>` +
    (zh === undefined ? '' : `<rdf:li xml:lang="zh-CN">${escapeXml(zh)}</rdf:li>`) + '</rdf:Alt>';
  const rights = `Personal information collected for public safety only (${f.legalBasis}); any other use needs the person's separate consent. Data mining prohibited.`;
  return [
    '<?xpacket begin="\uFEFF" id="W5M0MpCehiHzreSzNTczkc9d"?>',
    `<x:xmpmeta xmlns:x="${X_NS}">`,
    ` <rdf:RDF xmlns:rdf="${RDF_NS}"${carried?.declarations ?? ''}>`,
    `  <rdf:Description rdf:about=""${NAMESPACES.map(([p, uri]) => `\n    xmlns:${p}="${uri}"`).join('')}>`,
    ...FIELD_KEYS.map((k) => property(PROPERTY[k], f[k])),
    property('Signature', signature),
    ...(source === undefined ? [] : [property('SourceXmp', source)]),
    '   <xmpRights:Marked>True</xmpRights:Marked>',
    `   <xmpRights:UsageTerms>${alt(f.usageTermsEn, f.usageTermsZh)}</xmpRights:UsageTerms>`,
    `   <plus:DataMining>${DMI_PROHIBITED}</plus:DataMining>`,
    `   <dc:rights>${alt(rights)}</dc:rights>`,
    `   <xmp:MetadataDate>${escapeXml(f.capturedAt)}</xmp:MetadataDate>`,
    `  </rdf:Description>${carried?.content ?? '\n'} </rdf:RDF>`,
    '</x:xmpmeta>',
    // 'r': the packet must not be edited in place; any edit breaks verification anyway.
    '<?xpacket end="r"?>',
  ].join('\n');
}

/**
 * Splices the tag into the original without copying more than once. `info` must be
 * walkJpeg(original); f.originalSha256 is the caller's hash of `original` (not recomputed here).
 */
export function tagJpeg(original: Buffer, info: JpegInfo, f: TagFields, signature: string): Buffer {
  const parts = tagJpegParts(original, info, f, signature);
  return Buffer.concat(parts, parts.reduce((n, p) => n + p.length, 0));
}

/** The tagged JPEG as slices of the original around the new segment: the capture path encrypts and writes them without concatenating. */
function tagJpegParts(original: Buffer, info: JpegInfo, f: TagFields, signature: string): Buffer[] {
  canonicalTagPayload(f); // same validation as the signed bytes
  return spliceTag(original, info, f, signature);
}

/** Signs and splices in one go, the fields validated and made canonical once: the capture path. */
export function signAndTagJpegParts(original: Buffer, info: JpegInfo, f: TagFields, privateKey: KeyObject): Buffer[] {
  return spliceTag(original, info, f, signPayload(canonicalTagPayload(f), privateKey));
}

function spliceTag(original: Buffer, info: JpegInfo, f: TagFields, signature: string): Buffer[] {
  const camera = info.xmp;
  const packet = renderXmpPacket(f, signature, camera && original.subarray(camera.offset, camera.offset + camera.length));
  let at = 2;
  if (camera !== undefined) at = camera.offset;
  else {
    // After the leading JFIF/Exif segments, where readers expect metadata.
    for (const s of info.segments.slice(1)) {
      if (s.marker !== 0xe0 && s.marker !== 0xe1) break;
      at = s.offset + s.length;
    }
  }
  const removed = camera?.length ?? 0;
  const head = Buffer.from([0xff, 0xe1, 0, 0]);
  head.writeUInt16BE(2 + XMP_APP1_HEADER.length + packet.length, 2);
  return [original.subarray(0, at), head, XMP_APP1_HEADER, packet, original.subarray(at + removed)];
}

function malformed(message: string): never {
  throw new CamwardenError('jpeg.invalid', `malformed camwarden tag: ${message}`, { details: { reason: 'malformed-tag' } });
}

const base64 = (text: string, what: string): Buffer => {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text) malformed(`${what} is not canonical base64`);
  return bytes;
};

/**
 * Null when no standard XMP segment mentions camwarden. Throws jpeg.invalid when the header
 * segments are broken, or (details.reason 'malformed-tag') when our tag cannot be read.
 */
export function readTag(bytes: Buffer): ReadTag | null {
  let segment: { offset: number; length: number } | undefined;
  for (const s of walkJpegHeaders(bytes).segments) {
    const payload = s.offset + 4;
    if (s.marker !== 0xe1 || XMP_APP1_HEADER.compare(bytes, payload, payload + XMP_APP1_HEADER.length) !== 0) continue;
    if (!bytes.subarray(payload, s.offset + s.length).includes('camwarden')) continue;
    if (segment !== undefined) malformed('two tag segments');
    segment = { offset: s.offset, length: s.length };
  }
  if (segment === undefined) return null;
  const text = bytes.toString('utf8', segment.offset + 4 + XMP_APP1_HEADER.length, segment.offset + segment.length);
  // Ours is the first rdf:Description; camera descriptions follow it.
  const open = text.indexOf('<rdf:Description');
  const close = text.indexOf('</rdf:Description>', open);
  if (open < 0 || close < 0) malformed('no rdf:Description');
  const values = new Map<string, string>();
  for (const m of text.slice(open, close).matchAll(/<camwarden:(\w+)>([^<]*)<\/camwarden:\1>/g)) {
    if (values.has(m[1]!)) malformed(`camwarden:${m[1]} twice`);
    values.set(m[1]!, unescapeXml(m[2]!));
  }
  const fields: Record<string, string> = {};
  for (const [name, key] of FIELD_OF) {
    const value = values.get(name);
    if (value === undefined) malformed(`camwarden:${name} missing`);
    fields[key] = value;
  }
  const signature = values.get('Signature');
  if (signature === undefined) malformed('camwarden:Signature missing');
  if (fields.purpose !== 'public-safety') malformed(`purpose ${fields.purpose}`);
  const source = values.get('SourceXmp');
  const tag: ReadTag = { fields: fields as unknown as TagFields, signature, segment };
  if (source !== undefined) tag.sourceXmp = base64(source, 'camwarden:SourceXmp');
  return tag;
}

export function untagJpeg(bytes: Buffer): Buffer {
  const tag = readTag(bytes);
  if (tag === null) throw new CamwardenError('jpeg.invalid', 'the JPEG carries no camwarden tag', { details: { reason: 'untagged' } });
  return spliceOut(bytes, tag);
}

function spliceOut(bytes: Buffer, { segment, sourceXmp }: ReadTag): Buffer {
  const tail = bytes.subarray(segment.offset + segment.length);
  return Buffer.concat(sourceXmp === undefined ? [bytes.subarray(0, segment.offset), tail] : [bytes.subarray(0, segment.offset), sourceXmp, tail]);
}

const ANY_SIZE = { maxBytes: Infinity, maxWidth: 0xffff, maxHeight: 0xffff };

export function verifyTaggedJpeg(bytes: Buffer, publicKeyFor: (keyId: string) => KeyObject | undefined): TagVerification {
  const tampered = (reason: TamperReason): TagVerification => ({ status: 'tampered', reason });
  let tag: ReadTag | null;
  try {
    tag = readTag(bytes);
  } catch {
    // A broken file that still names us was tagged once; anything else never was.
    return bytes.includes('camwarden') ? tampered('malformed-tag') : { status: 'untagged', reason: 'not-jpeg' };
  }
  if (tag === null) return { status: 'untagged' };
  const key = publicKeyFor(tag.fields.keyId);
  if (key === undefined) return tampered('unknown-key');
  let signed = false;
  try {
    signed = verify(null, canonicalTagPayload(tag.fields), key, base64(tag.signature, 'signature'));
  } catch {
    signed = false;
  }
  if (!signed) return tampered('bad-signature');
  const original = spliceOut(bytes, tag);
  const originalSha256 = createHash('sha256').update(original).digest('hex');
  if (originalSha256 !== tag.fields.originalSha256) return tampered('hash-mismatch');
  let expected: Buffer;
  try {
    expected = tagJpeg(original, walkJpeg(original, ANY_SIZE), tag.fields, tag.signature);
  } catch {
    return tampered('original-invalid');
  }
  // Catches edits to the unsigned parts: standard fields, verbatim camera XMP, segment position.
  if (!expected.equals(bytes)) return tampered('not-canonical');
  return { status: 'valid', fields: tag.fields, originalSha256 };
}
