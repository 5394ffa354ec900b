/** Schemas of the learner routes: attempts, progress, the class view, regrade jobs and tutor conversations. */
import { t } from 'elysia'
import { GradeResult, GradeScore } from '../grading/model'
import { TestSummary } from '../execution/model'

const ID_EXAMPLE = '01938a4e-7b1c-7d2e-9f00-4a5b6c7d8e9f'
const SCORE_EXAMPLE = { passed: 7, graded: 8, total: 9, percent: 87.5 }
const SUMMARY_EXAMPLE = {
  id: ID_EXAMPLE,
  task: 'tic-tac-toe',
  created_at: '2026-12-07T10:15:00.000Z',
  score: SCORE_EXAMPLE,
  success: false,
  duration_ms: 812.4,
  regrade: false,
}

export const AttemptSummary = t.Object(
  {
    id: t.String({ description: 'Time-ordered: a later attempt has a greater id' }),
    task: t.String({ description: "The task's slug" }),
    created_at: t.String({ description: 'ISO 8601 UTC' }),
    score: GradeScore,
    success: t.Boolean({ description: 'Nothing failed or erred' }),
    duration_ms: t.Number(),
    regrade: t.Boolean({ description: 'Made by a regrade job, not by the learner' }),
  },
  { title: 'AttemptSummary', examples: [SUMMARY_EXAMPLE] },
)

export const AttemptFiles = t.Object(
  {
    backendCode: t.Optional(t.String()),
    frontendCode: t.Optional(t.Unknown({ description: 'As sent: `{ "<path>": content }` or `{ html, css, js }`' })),
  },
  { title: 'AttemptFiles' },
)

export const Attempt = t.Object(
  {
    ...AttemptSummary.properties,
    learner: t.String(),
    files: AttemptFiles,
    groups: t.Object({ backend: TestSummary, frontend: TestSummary, html: TestSummary }),
    results: t.Array(GradeResult, { description: 'As the learner saw them: private results carry status only' }),
    include_private: t.Boolean(),
  },
  { title: 'Attempt' },
)

export const AttemptList = t.Object(
  {
    attempts: t.Array(AttemptSummary, { description: "Newest first, the caller's own" }),
    next: t.Union([t.String(), t.Null()], { description: 'Pass as `before` for the next (older) page' }),
  },
  { title: 'AttemptList', examples: [{ attempts: [SUMMARY_EXAMPLE], next: null }] },
)

export const AttemptQuery = t.Object({
  task: t.Optional(t.String({ minLength: 1, description: "Only this task's attempts (its slug)" })),
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 100, default: 20, description: '1 to 100' })),
  before: t.Optional(t.String({ minLength: 1, description: 'Only attempts older than this id (paging)' })),
})

export const IdParams = t.Object({ id: t.String({ minLength: 1, maxLength: 200 }) })

export const TaskProgress = t.Object(
  {
    task: t.String(),
    title: t.String({ description: "The task's display name" }),
    attempts: t.Integer(),
    best: t.Union([GradeScore, t.Null()]),
    last: t.Union([AttemptSummary, t.Null()]),
    completed: t.Boolean({ description: 'Some attempt passed every graded test' }),
  },
  { title: 'TaskProgress' },
)

export const Progress = t.Object(
  { learner: t.String(), tasks: t.Array(TaskProgress, { description: 'One entry per task of the tasks folder' }) },
  {
    title: 'Progress',
    examples: [
      {
        learner: 'alice',
        tasks: [
          {
            task: 'tic-tac-toe',
            title: 'Tic Tac Toe',
            attempts: 3,
            best: SCORE_EXAMPLE,
            last: SUMMARY_EXAMPLE,
            completed: false,
          },
        ],
      },
    ],
  },
)

export const DeletedData = t.Object(
  {
    success: t.Literal(true),
    deleted: t.Object({ attempts: t.Integer(), conversations: t.Integer() }),
  },
  { title: 'DeletedData', examples: [{ success: true, deleted: { attempts: 12, conversations: 3 } }] },
)

export const TaskQuery = t.Object({
  task: t.Optional(t.String({ minLength: 1, description: 'Only this task (its slug)' })),
})

export const ClassProgress = t.Object(
  {
    learners: t.Array(
      t.Object({
        learner: t.String(),
        tasks: t.Array(
          t.Object({
            task: t.String(),
            attempts: t.Integer(),
            best: t.Union([GradeScore, t.Null()]),
            last_at: t.Union([t.String(), t.Null()]),
            completed: t.Boolean(),
          }),
        ),
      }),
    ),
  },
  {
    title: 'ClassProgress',
    examples: [
      {
        learners: [
          {
            learner: 'alice',
            tasks: [
              {
                task: 'tic-tac-toe',
                attempts: 3,
                best: SCORE_EXAMPLE,
                last_at: '2026-12-07T10:15:00.000Z',
                completed: false,
              },
            ],
          },
        ],
      },
    ],
  },
)

export const RegradeRequest = t.Object(
  {
    task: t.String({ minLength: 1, description: "A task's name or slug" }),
    learner: t.Optional(t.String({ minLength: 1, description: "Only this learner's latest attempt" })),
  },
  { title: 'RegradeRequest', examples: [{ task: 'tic-tac-toe' }, { task: 'tic-tac-toe', learner: 'alice' }] },
)

export const RegradeAccepted = t.Object(
  { job: t.String() },
  { title: 'RegradeAccepted', examples: [{ job: ID_EXAMPLE }] },
)

export const RegradeJob = t.Object(
  {
    id: t.String(),
    task: t.String(),
    learner: t.Union([t.String(), t.Null()]),
    status: t.Union([t.Literal('queued'), t.Literal('running'), t.Literal('done'), t.Literal('failed')]),
    done: t.Integer({ description: 'Attempts graded so far' }),
    total: t.Integer(),
    attempts: t.Array(t.String(), { description: 'Ids of the new attempts it made' }),
    error: t.Optional(t.String()),
  },
  {
    title: 'RegradeJob',
    examples: [
      {
        id: ID_EXAMPLE,
        task: 'tic-tac-toe',
        learner: null,
        status: 'running',
        done: 1,
        total: 2,
        attempts: [ID_EXAMPLE],
      },
    ],
  },
)

const CONVERSATION_EXAMPLE = {
  id: ID_EXAMPLE,
  learner: 'alice',
  task: 'tic-tac-toe',
  title: 'Why does my board not reset?',
  created_at: '2026-12-07T10:15:00.000Z',
  updated_at: '2026-12-07T10:17:00.000Z',
  messages: 4,
}

export const ConversationSummary = t.Object(
  {
    id: t.String(),
    learner: t.String(),
    task: t.Union([t.String(), t.Null()]),
    title: t.String(),
    created_at: t.String(),
    updated_at: t.String(),
    messages: t.Integer({ description: 'How many messages it holds' }),
  },
  { title: 'ConversationSummary', examples: [CONVERSATION_EXAMPLE] },
)

export const ConversationList = t.Object(
  { conversations: t.Array(ConversationSummary, { description: 'Most recently used first' }) },
  { title: 'ConversationList', examples: [{ conversations: [CONVERSATION_EXAMPLE] }] },
)

export const ConversationQuery = t.Object({
  task: t.Optional(t.String({ minLength: 1, description: "Only this task's conversations (its slug)" })),
  learner: t.Optional(t.String({ minLength: 1, description: "Admin only: this learner's conversations" })),
})

export const Conversation = t.Object(
  {
    id: t.String(),
    learner: t.String(),
    task: t.Union([t.String(), t.Null()]),
    messages: t.Array(
      t.Object({
        role: t.Union([t.Literal('system'), t.Literal('user'), t.Literal('assistant')]),
        content: t.String(),
        created_at: t.String(),
        hint_level: t.Optional(t.Integer({ minimum: 1, maximum: 4 })),
      }),
    ),
  },
  {
    title: 'Conversation',
    examples: [
      {
        id: ID_EXAMPLE,
        learner: 'alice',
        task: 'tic-tac-toe',
        messages: [
          { role: 'user', content: 'Why does my board not reset?', created_at: '2026-12-07T10:15:00.000Z' },
          {
            role: 'assistant',
            content: 'What does your /reset endpoint return?',
            created_at: '2026-12-07T10:15:02.000Z',
            hint_level: 1,
          },
        ],
      },
    ],
  },
)

export const Deleted = t.Object({ success: t.Literal(true) }, { title: 'Deleted' })
