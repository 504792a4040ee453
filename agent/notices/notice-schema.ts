import Type, { type Static } from 'typebox';
import { ID_PATTERN } from '../config/schema.js';

/** Schemas of what an operator submits: a notice (CLI file or HTTP body) and an assessment. */
const Text = Type.String({ minLength: 1, maxLength: 4000 });
const Opt = Type.Optional(Text);

export const NoticeTextSchema = Type.Object(
  {
    title: Text,
    handler: Text,
    contact: Text,
    dataTypes: Text,
    purpose: Text,
    method: Text,
    retention: Text,
    security: Text,
    rights: Text,
    howToExercise: Text,
    faceNecessity: Opt,
    faceImpact: Opt,
  },
  { additionalProperties: false },
);

export const NoticeContentSchema = Type.Object(
  {
    terms: Type.Object(
      {
        handler: Text,
        purpose: Type.Literal('public-safety'),
        retentionDays: Type.Integer({ minimum: 1, maximum: 3650 }),
        faceRecognition: Type.Boolean(),
      },
      { additionalProperties: false },
    ),
    text: Type.Object({ zh: NoticeTextSchema, en: Type.Optional(NoticeTextSchema) }, { additionalProperties: false }),
    placement: Type.Object(
      { location: Text, distanceMeters: Type.Optional(Type.Number({ minimum: 0, maximum: 1000 })) },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export const CameraIds = Type.Array(Type.String({ pattern: ID_PATTERN }), { minItems: 1, maxItems: 256, uniqueItems: true });

export const NoticeInputSchema = Type.Object(
  {
    cameras: CameraIds,
    terms: NoticeContentSchema.properties.terms,
    text: NoticeContentSchema.properties.text,
    placement: NoticeContentSchema.properties.placement,
  },
  { additionalProperties: false },
);
export type NoticeInput = Static<typeof NoticeInputSchema>;

export const PiaInputSchema = Type.Object(
  {
    subject: Type.String({ pattern: ID_PATTERN }),
    cameras: CameraIds,
    signedBy: Text,
    signedAt: Type.Optional(Type.String({ format: 'date-time' })),
    reviewBy: Type.Optional(Type.String({ format: 'date-time' })),
    // Measures Art. 9: the four elements of the assessment.
    content: Type.Object(
      { lawfulness: Text, impact: Text, risks: Text, safeguards: Text },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type PiaInput = Static<typeof PiaInputSchema>;
