import { TypeBoxValidatorCompiler, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { Role } from '../../config/schema.js';
import { CamwardenError, isCamwardenError } from '../../errors.js';
import type { Notice } from '../../notices/notice-register.js';
import { CameraIds, NoticeContentSchema } from '../../notices/notice-schema.js';
import { renderSignPages, renderSignText, svgToPng } from '../../notices/render-sign.js';
import { signInputFor } from '../../notices/sign-input.js';
import { principal } from '../auth.js';
import { BEARER, IMAGE_BODY_LIMIT, IdParams, type RouteDeps } from './common.js';

/**
 * Notices (signs): register, evidence, verify, withdraw, render (PIPL Art. 26; Shenzhen Art. 14).
 * The operator manages them; the auditor reads them; the kiosk shows them to passers-by.
 */
const READERS: Role[] = ['operator', 'auditor', 'kiosk'];

const ListQuery = Type.Object(
  {
    camera: Type.Optional(CameraIds.items),
    state: Type.Optional(Type.Enum(['draft', 'verified', 'expired', 'withdrawn'])),
  },
  { additionalProperties: false },
);

const CreateBody = Type.Object({ content: NoticeContentSchema, cameras: CameraIds }, { additionalProperties: false });
const VerifyBody = Type.Object({ by: Type.String({ minLength: 1, maxLength: 200, description: 'Who checked the sign in place.' }) }, { additionalProperties: false });
const WithdrawBody = Type.Object({ reason: Type.String({ minLength: 1, maxLength: 2000 }) }, { additionalProperties: false });

const SignQuery = Type.Object(
  {
    format: Type.Optional(Type.Enum(['svg', 'png', 'txt'], { default: 'svg' })),
    paper: Type.Optional(Type.Enum(['A4', 'A3'], { default: 'A4' })),
    large: Type.Optional(Type.Boolean({ default: false, description: 'Large print (Measures Art. 5).' })),
    page: Type.Optional(Type.Integer({ minimum: 1, maximum: 50, default: 1, description: 'Page of a sign that runs over several sheets; the x-sign-pages header says how many.' })),
  },
  { additionalProperties: false },
);

const Photo = Type.String({ format: 'binary', description: 'The photo of the installed sign, at most 32 MiB.' });

const SIGN_TYPES = { svg: 'image/svg+xml; charset=utf-8', png: 'image/png', txt: 'text/plain; charset=utf-8' } as const;

/**
 * What a role sees of a notice. The kiosk shows signs to the public, so it gets what the sign
 * says and whether it is in force, not who verified it or why it was withdrawn (Shenzhen
 * Art. 11(5)). Nobody gets the blob file name of the evidence photo.
 */
function view(n: Notice, role: Role): Record<string, unknown> {
  if (role === 'kiosk') {
    return { id: n.id, state: n.state, cameras: n.cameras, content: n.content, verifiedAt: n.verifiedAt, expiresAt: n.expiresAt };
  }
  const { evidence, ...rest } = n;
  return evidence === undefined ? rest : { ...rest, evidence: { sha256: evidence.sha256, at: evidence.at } };
}

export const noticeRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { services: s, auth }) => {
  const readers = auth.requireRoles(...READERS);
  const operator = auth.requireRoles('operator');
  const tags = ['notices'];

  // Only this plugin takes raw images, so no other route buffers 32 MiB for a caller.
  app.addContentTypeParser(['image/jpeg', 'image/png'], { parseAs: 'buffer', bodyLimit: IMAGE_BODY_LIMIT }, (_req, body, done) => done(null, body));

  app.get('/v1/notices', { onRequest: readers, schema: { tags, security: BEARER, summary: `List notices (${READERS.join(', ')})`, querystring: ListQuery } }, async (req) =>
    s.notices.list({ camera: req.query.camera, state: req.query.state }).map((n) => view(n, principal(req).role)),
  );

  app.get('/v1/notices/:id', { onRequest: readers, schema: { tags, security: BEARER, summary: `One notice (${READERS.join(', ')})`, params: IdParams } }, async (req) =>
    view(s.notices.get(req.params.id), principal(req).role),
  );

  app.post(
    '/v1/notices',
    {
      onRequest: operator,
      schema: {
        tags,
        security: BEARER,
        summary: 'Register a notice as a draft (operator)',
        description: 'A sign missing content Shenzhen Art. 14 requires is refused with 422 notice.incomplete.',
        body: CreateBody,
      },
    },
    async (req, reply) => {
      let n: Notice;
      try {
        n = s.notices.add({ content: req.body.content, cameras: req.body.cameras }, principal(req).actor);
      } catch (error) {
        // The register names fields inside the content; the body nests them under `content`.
        if (!isCamwardenError(error, 'notice.incomplete') || error.field === undefined) throw error;
        throw new CamwardenError(error.code, error.message, { field: `content.${error.field}`, details: error.details, cause: error });
      }
      return reply.code(201).header('location', `/v1/notices/${encodeURIComponent(n.id)}`).send(view(n, 'operator'));
    },
  );

  app.put(
    '/v1/notices/:id/evidence',
    {
      onRequest: operator,
      schema: {
        tags,
        security: BEARER,
        summary: 'Attach the photo of the installed sign (operator; body image/jpeg or image/png)',
        params: IdParams,
        body: { content: { 'image/jpeg': { schema: Photo }, 'image/png': { schema: Photo } } },
      },
      // The schema above documents the raw body; the register checks the bytes themselves.
      validatorCompiler: (req) => (req.httpPart === 'body' ? () => true : TypeBoxValidatorCompiler(req)),
    },
    async (req) => {
      // The register checks the bytes are a JPEG or PNG; here only that an image type was sent.
      if (!Buffer.isBuffer(req.body)) {
        throw new CamwardenError('input.invalid', 'send the photo as the raw body with Content-Type image/jpeg or image/png', { field: 'body' });
      }
      return view(await s.notices.attachEvidence(req.params.id, req.body, principal(req).actor), 'operator');
    },
  );

  app.post(
    '/v1/notices/:id/verify',
    { onRequest: operator, schema: { tags, security: BEARER, summary: 'Verify a notice in place (operator)', params: IdParams, body: VerifyBody } },
    async (req) => view(s.notices.verify(req.params.id, req.body.by, principal(req).actor), 'operator'),
  );

  app.post(
    '/v1/notices/:id/withdraw',
    { onRequest: operator, schema: { tags, security: BEARER, summary: 'Withdraw a notice (operator)', params: IdParams, body: WithdrawBody } },
    async (req) => view(s.notices.withdraw(req.params.id, req.body.reason, principal(req).actor), 'operator'),
  );

  app.get(
    '/v1/notices/:id/sign',
    {
      onRequest: auth.requireRoles('operator', 'kiosk'),
      schema: { tags, security: BEARER, summary: 'The printable sign as SVG, PNG or plain text (operator, kiosk)', params: IdParams, querystring: SignQuery },
    },
    async (req, reply) => {
      const n = s.notices.get(req.params.id);
      const input = signInputFor(n, s.config.site);
      const format = req.query.format ?? 'svg';
      const opts = { paper: req.query.paper ?? 'A4', largePrint: req.query.large ?? false };
      if (format === 'txt') {
        return reply.type(SIGN_TYPES.txt).header('content-disposition', `inline; filename="notice-${n.id}.txt"`).send(renderSignText(input));
      }
      const pages = await renderSignPages(input, opts);
      const page = req.query.page ?? 1;
      const svg = pages[page - 1];
      if (svg === undefined) throw new CamwardenError('not-found', `the sign has ${pages.length} page(s); there is no page ${page}`, { field: 'page' });
      const body = format === 'png' ? await svgToPng(svg, opts.paper) : svg;
      const name = `notice-${n.id}-${opts.paper}${opts.largePrint ? '-large' : ''}${pages.length > 1 ? `-p${page}` : ''}.${format}`;
      return reply.type(SIGN_TYPES[format]).header('x-sign-pages', String(pages.length)).header('content-disposition', `inline; filename="${name}"`).send(body);
    },
  );
};
