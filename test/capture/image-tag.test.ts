import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import exifr from 'exifr';
import { describe, it, expect, beforeAll } from 'vitest';
import {
  buildXmpPacket, canonicalTagPayload, DMI_PROHIBITED, readTag, signTag, tagJpeg, untagJpeg, verifyTaggedJpeg, type TagFields,
} from '../../agent/capture/image-tag.js';
import { walkJpeg } from '../../agent/capture/jpeg-walk.js';
import { CAMERA_EXIF, CAMERA_XMP, exiftool, FULL_HD, makeCameraJpeg, makeJpeg } from '../fixtures/jpegs.js';

const LIMITS = { maxBytes: 20_000_000, maxWidth: 7680, maxHeight: 4320 };
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const agentKey = generateKeyPairSync('ed25519');
const otherKey = generateKeyPairSync('ed25519');
const keys = (id: string): KeyObject | undefined => (id === 'agent-key-1' ? agentKey.publicKey : undefined);

function fieldsFor(original: Buffer): TagFields {
  return {
    imageId: 'img-0001', purpose: 'public-safety', dpvPurpose: 'https://w3id.org/dpv#ProtectionOfPublicSecurity',
    legalBasis: 'PIPL Art. 26', legalBasisText: 'Images <collected> in public places & used "only" for public safety\r\n',
    camera: 'cam-north-2', notice: 'notice-7', agent: 'agent-sz-01', site: 'site-futian-plaza',
    capturedAt: '2025-03-14T09:26:53.120Z', originalSha256: sha256(original), keyId: 'agent-key-1',
    usageTermsZh: '本图像仅用于维护公共安全；用于其他目的须取得个人单独同意。',
    usageTermsEn: 'This image may be used for public safety only; any other use requires the separate consent of the person concerned.',
  };
}

function tag(original: Buffer, key = agentKey.privateKey): { tagged: Buffer; fields: TagFields } {
  const fields = fieldsFor(original);
  return { tagged: tagJpeg(original, walkJpeg(original, LIMITS), fields, signTag(fields, key)), fields };
}

/** Replaces the first occurrence of `from` (ASCII) inside the tag segment. */
function patchTag(tagged: Buffer, from: string, to: string): Buffer {
  expect(to.length).toBe(from.length);
  const at = tagged.indexOf(from, readTag(tagged)!.segment.offset);
  expect(at).toBeGreaterThan(0);
  const copy = Buffer.from(tagged);
  copy.write(to, at, 'latin1');
  return copy;
}

describe('image tag', () => {
  let plain: Buffer;
  let camera: Buffer;
  beforeAll(async () => {
    plain = await makeJpeg({ ...FULL_HD, seed: 5 });
    camera = await makeCameraJpeg();
  });

  it('signs a canonical payload: sorted keys, strings only, extra properties ignored', () => {
    const f = fieldsFor(plain);
    const payload = canonicalTagPayload(f).toString('utf8');
    expect(payload.startsWith('{"agent":"agent-sz-01","camera":"cam-north-2","capturedAt":')).toBe(true);
    expect(payload.endsWith(`"usageTermsZh":"${f.usageTermsZh}"}`)).toBe(true);
    const reordered = Object.fromEntries(Object.entries({ ...f, extra: 'x' }).reverse()) as unknown as TagFields;
    expect(canonicalTagPayload(reordered).equals(canonicalTagPayload(f))).toBe(true);
    expect(() => canonicalTagPayload({ ...f, purpose: 'marketing' as 'public-safety' })).toThrow(expect.objectContaining({ code: 'input.invalid' }));
    expect(() => buildXmpPacket({ ...f, notice: 'n\u0000' }, 'sig')).toThrow(expect.objectContaining({ code: 'input.invalid', field: 'notice' }));
  });

  it('splices one APP1 segment after the leading APP0/APP1 and untags byte-exactly', () => {
    const { tagged, fields } = tag(plain);
    const info = walkJpeg(plain, LIMITS);
    const at = info.segments[1]!.marker === 0xe0 ? info.segments[1]!.offset + info.segments[1]!.length : 2;
    const { segment } = readTag(tagged)!;
    expect(segment.offset).toBe(at);
    expect(tagged.subarray(0, at).equals(plain.subarray(0, at))).toBe(true);
    expect(tagged.subarray(at + segment.length).equals(plain.subarray(at))).toBe(true);
    expect(walkJpeg(tagged, LIMITS).xmp).toEqual(segment);
    const untagged = untagJpeg(tagged);
    expect(untagged.equals(plain)).toBe(true);
    expect(sha256(untagged)).toBe(fields.originalSha256);
  });

  it('reads back every field exactly, escaping included', () => {
    const { tagged, fields } = tag(plain);
    const read = readTag(tagged)!;
    expect(read.fields).toEqual(fields);
    expect(read.sourceXmp).toBeUndefined();
    expect(read.signature).toBe(signTag(fields, agentKey.privateKey));
  });

  it('verifies a tagged JPEG as valid', () => {
    const { tagged, fields } = tag(plain);
    expect(verifyTaggedJpeg(tagged, keys)).toEqual({ status: 'valid', fields, originalSha256: fields.originalSha256 });
  });

  it('reports one changed byte in the scan data as tampered', () => {
    const { tagged } = tag(plain);
    const sos = walkJpeg(tagged, LIMITS).segments.find((s) => s.marker === 0xda)!;
    let at = sos.offset + sos.length + 5000;
    while (tagged[at]! >= 0xf0) at++;
    const copy = Buffer.from(tagged);
    copy[at] = copy[at]! ^ 0x01;
    expect(verifyTaggedJpeg(copy, keys)).toEqual({ status: 'tampered', reason: 'hash-mismatch' });
  });

  it('reports one changed byte anywhere in the XMP packet as tampered', () => {
    const { tagged } = tag(plain);
    expect(verifyTaggedJpeg(patchTag(tagged, 'cam-north-2', 'cam-north-3'), keys)).toEqual({ status: 'tampered', reason: 'bad-signature' });
    expect(verifyTaggedJpeg(patchTag(tagged, 'Data mining prohibited', 'Data mining prohibitex'), keys)).toEqual({ status: 'tampered', reason: 'not-canonical' });
    expect(verifyTaggedJpeg(patchTag(tagged, 'DMI-PROHIBITED', 'DMI-PROHIBITEE'), keys)).toEqual({ status: 'tampered', reason: 'not-canonical' });
    expect(verifyTaggedJpeg(patchTag(tagged, '</camwarden:Camera>', '</camwarden:Cbmera>'), keys)).toEqual({ status: 'tampered', reason: 'malformed-tag' });
    expect(verifyTaggedJpeg(patchTag(tagged, 'camwarden.org/ns', 'camwarden.org/nt'), keys)).toMatchObject({ status: 'tampered' });
  });

  it('reports a signature from another key as tampered, and an unknown key id too', () => {
    const { tagged } = tag(plain, otherKey.privateKey);
    expect(verifyTaggedJpeg(tagged, keys)).toEqual({ status: 'tampered', reason: 'bad-signature' });
    expect(verifyTaggedJpeg(tag(plain).tagged, () => undefined)).toEqual({ status: 'tampered', reason: 'unknown-key' });
  });

  it('reports JPEGs without a camwarden tag as untagged', () => {
    expect(verifyTaggedJpeg(plain, keys)).toEqual({ status: 'untagged' });
    expect(verifyTaggedJpeg(camera, keys)).toEqual({ status: 'untagged' });
    expect(readTag(camera)).toBeNull();
    expect(() => untagJpeg(plain)).toThrow(expect.objectContaining({ code: 'jpeg.invalid' }));
  });

  it('replaces a camera XMP packet in place, keeping its fields and EXIF, lossless', () => {
    const { tagged, fields } = tag(camera);
    const cameraXmp = walkJpeg(camera, LIMITS).xmp!;
    const read = readTag(tagged)!;
    expect(read.segment.offset).toBe(cameraXmp.offset);
    expect(read.sourceXmp!.equals(camera.subarray(cameraXmp.offset, cameraXmp.offset + cameraXmp.length))).toBe(true);
    expect(walkJpeg(tagged, LIMITS).segments.filter((s) => s.marker === 0xe1)).toHaveLength(2); // Exif + ours
    const seen = JSON.parse(exiftool(tagged, ['-j', '-EXIF:all', '-XMP:all']))[0];
    expect(seen).toMatchObject({ ...CAMERA_EXIF, ...CAMERA_XMP, Purpose: 'public-safety', ImageId: 'img-0001' });
    expect(exiftool(tagged, ['-validate', '-warning', '-a'])).toMatch(/^Validate\s+: OK\s*$/);
    expect(sha256(untagJpeg(tagged))).toBe(fields.originalSha256);
    expect(verifyTaggedJpeg(tagged, keys)).toMatchObject({ status: 'valid' });
  });

  it('keeps only the base64 copy when the camera XMP clashes with our properties or is large', async () => {
    for (const extra of [['-XMP-dc:Rights=(c) Vendor'], [`-XMP-dc:Subject=${'x'.repeat(30_000)}`]]) {
      const cam = await makeCameraJpeg({}, extra);
      const { tagged, fields } = tag(cam);
      const seen = JSON.parse(exiftool(tagged, ['-j', '-XMP:all']))[0];
      expect(seen.CreatorTool).toBeUndefined();
      expect(seen.Purpose).toBe('public-safety');
      expect(untagJpeg(tagged).equals(cam)).toBe(true);
      expect(verifyTaggedJpeg(tagged, keys)).toEqual({ status: 'valid', fields, originalSha256: fields.originalSha256 });
    }
  });

  it('carries camera fields whose namespaces are declared on the packet\'s outer elements', () => {
    const packet = "<?xpacket begin='' id='W5M0MpCehiHzreSzNTczkc9d'?><x:xmpmeta xmlns:x='adobe:ns:meta/' xmlns:tiff='http://ns.adobe.com/tiff/1.0/'>" +
      "<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#' xmlns:xmp='http://ns.adobe.com/xap/1.0/'>" +
      "<rdf:Description rdf:about='' xmp:CreatorTool='IPC firmware 2.1' tiff:Make='Dahua'/></rdf:RDF></x:xmpmeta><?xpacket end='w'?>";
    const payload = Buffer.concat([Buffer.from('http://ns.adobe.com/xap/1.0/\0'), Buffer.from(packet)]);
    const head = Buffer.from([0xff, 0xe1, 0, 0]);
    head.writeUInt16BE(payload.length + 2, 2);
    const cam = Buffer.concat([plain.subarray(0, 2), head, payload, plain.subarray(2)]);
    const { tagged } = tag(cam);
    const seen = JSON.parse(exiftool(tagged, ['-j', '-XMP:all']))[0];
    expect(seen).toMatchObject({ CreatorTool: 'IPC firmware 2.1', Make: 'Dahua', Purpose: 'public-safety' });
    expect(exiftool(tagged, ['-validate', '-warning', '-a'])).toMatch(/^Validate\s+: OK\s*$/); // every prefix bound
    expect(untagJpeg(tagged).equals(cam)).toBe(true);
    expect(verifyTaggedJpeg(tagged, keys)).toMatchObject({ status: 'valid' });
  });

  it('refuses a camera XMP packet too large to carry in one segment', async () => {
    const cam = await makeCameraJpeg({}, [`-XMP-dc:Subject=${'x'.repeat(50_000)}`]);
    expect(() => tag(cam)).toThrow(expect.objectContaining({ code: 'xmp.too-large' }));
  });

  it('shows purpose, usage terms and data-mining prohibition to exiftool', () => {
    const { tagged, fields } = tag(plain);
    const seen = JSON.parse(exiftool(tagged, ['-j', '-XMP:all']))[0];
    expect(seen).toMatchObject({
      Purpose: 'public-safety', DpvPurpose: fields.dpvPurpose, LegalBasis: 'PIPL Art. 26', Marked: true,
      UsageTerms: fields.usageTermsEn, 'UsageTerms-zh-CN': fields.usageTermsZh, DataMining: DMI_PROHIBITED,
    });
    expect(exiftool(tagged, ['-validate', '-warning', '-a'])).toMatch(/^Validate\s+: OK\s*$/);
  });

  it('shows usage terms and purpose to exifr', async () => {
    const { tagged, fields } = tag(plain);
    const seen = await exifr.parse(tagged, { xmp: true, mergeOutput: false });
    expect(seen.camwarden.Purpose).toBe('public-safety');
    expect(seen.xmpRights.UsageTerms).toEqual([
      { lang: 'x-default', value: fields.usageTermsEn },
      { lang: 'zh-CN', value: fields.usageTermsZh },
    ]);
    expect(seen.plus.DataMining).toBe(DMI_PROHIBITED);
  });
});
