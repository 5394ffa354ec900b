/**
 * Schemas of POST /api/llm-judge. The body schema is deliberately loose: the contract wants 400 (not 422) for
 * a missing or invalid screenshot or test description, so those fields are checked by the service.
 */
import { t } from 'elysia'

export const JudgeRequest = t.Object(
  {
    screenshot: t.Optional(
      t.Unknown({
        description: 'A data URL of a PNG, JPEG, WebP or GIF image: `data:image/png;base64,...`.',
        examples: ['data:image/png;base64,iVBORw0KGgo...'],
      }),
    ),
    testCase: t.Optional(
      t.Unknown({
        description: 'The judge test: `{ name, description }` (both non-empty strings; other fields are ignored).',
        examples: [
          { name: 'The board is a 3 by 3 grid', description: 'The page shows a square board of 3 by 3 cells.' },
        ],
      }),
    ),
    htmlCode: t.Optional(t.String({ description: "The learner's HTML, given to the model as context." })),
  },
  { title: 'JudgeRequest', additionalProperties: true },
)
export type JudgeRequest = typeof JudgeRequest.static

export const Judgment = t.Object(
  {
    judgment: t.Union([t.Literal('pass'), t.Literal('fail')]),
    explanation: t.String({ minLength: 1 }),
  },
  { additionalProperties: false },
)
export type Judgment = typeof Judgment.static

export const JudgeResponse = t.Object(
  {
    judgment: t.Union([t.Literal('pass'), t.Literal('fail')]),
    explanation: t.String(),
    model: t.String({ description: 'The vision model that judged.' }),
  },
  { title: 'JudgeResponse' },
)
export type JudgeResponse = typeof JudgeResponse.static
