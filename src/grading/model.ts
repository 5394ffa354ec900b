/** Request and response schemas of POST /api/grade (README, "Grading"). */
import { t } from 'elysia'
import { FrontendCode, SaveFields, TestResult, TestSummary } from '../execution/model'

export const GradeRequest = t.Object(
  {
    task: t.String({ minLength: 1, description: "A task's name or slug" }),
    backendCode: t.Optional(
      t.String({ description: 'Learner Python with @endpoint functions; without it endpoint tests are skipped' }),
    ),
    frontendCode: t.Optional(FrontendCode),
    include_private: t.Optional(
      t.Boolean({ default: false, description: 'Grade private tests too; their results say only pass/fail' }),
    ),
    save: t.Optional(
      t.Boolean({ default: true, description: "Keep this grading as one of the learner's attempts (default true)" }),
    ),
  },
  {
    title: 'GradeRequest',
    examples: [
      {
        task: 'tic-tac-toe',
        include_private: true,
        backendCode: "@endpoint('/reset')\ndef reset():\n    ...",
        frontendCode: { html: '<div id="board"></div>', css: '#board { display: grid }', js: "console.log('hi')" },
      },
    ],
  },
)
export type GradeRequest = typeof GradeRequest.static

export const GROUPS = ['backend', 'frontend', 'html'] as const
export type GradeGroup = (typeof GROUPS)[number]

export const GradeResult = t.Object(
  {
    ...TestResult.properties,
    group: t.Union([t.Literal('backend'), t.Literal('frontend'), t.Literal('html')], {
      description: "The task's test folder: backend (endpoint tests), frontend, html",
    }),
    kind: t.Union([t.Literal('endpoint'), t.Literal('frontend_interactive'), t.Literal('judge')], {
      description: 'What graded it: the Python runner, the browser, or the vision judge',
    }),
    judge_model: t.Optional(t.String({ description: 'A judged design test: the model that judged' })),
  },
  { title: 'GradeResult' },
)
export type GradeResult = typeof GradeResult.static

export const GradeScore = t.Object(
  {
    passed: t.Integer(),
    graded: t.Integer({ description: 'Tests that ran (total minus skipped)' }),
    total: t.Integer(),
    percent: t.Number({ description: 'passed / graded × 100, one decimal; 0 when nothing was graded' }),
  },
  { title: 'GradeScore' },
)
export type GradeScore = typeof GradeScore.static

/** The end of a grading: per group, overall, the score. Also the `summary` event of the stream. */
export const GradeSummary = t.Object(
  {
    task: t.String({ description: "The task's display name" }),
    success: t.Boolean({ description: 'Nothing failed or erred (skips do not count against it)' }),
    groups: t.Object({ backend: TestSummary, frontend: TestSummary, html: TestSummary }),
    summary: TestSummary,
    score: GradeScore,
    duration_ms: t.Number(),
    ...SaveFields,
  },
  { title: 'GradeSummary' },
)
export type GradeSummary = typeof GradeSummary.static

export const GradeResponse = t.Object(
  { ...GradeSummary.properties, results: t.Array(GradeResult) },
  { title: 'GradeResponse' },
)
export type GradeResponse = typeof GradeResponse.static
