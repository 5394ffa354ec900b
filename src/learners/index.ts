/**
 * Learners feature: what the server remembers of each learner and what they may read of it. Attempts (saved by
 * POST /api/grade and execute-test-cases), progress, deleting one's own data, the class view and grade export
 * for admins, regrade jobs, and the tutor's conversations. The learner is the caller's access identity; on an
 * open server everyone is the learner `local`, an admin.
 */
import { Elysia, t } from 'elysia'
import type { Access } from '../access'
import { errorResponses } from '../errors'
import { eventStream } from '../execution/event-stream'
import type { GradeDeps } from '../grading/service'
import type { Logger } from '../logging'
import type { RegradeJob as Job, Store } from '../store/port'
import type { TaskStore } from '../tasks/store'
import {
  Attempt,
  AttemptList,
  AttemptQuery,
  ClassProgress,
  Conversation,
  ConversationList,
  ConversationQuery,
  Deleted,
  DeletedData,
  IdParams,
  Progress,
  RegradeAccepted,
  RegradeJob,
  RegradeRequest,
  TaskQuery,
} from './model'
import { createRegrader } from './regrade'
import { gradesCsv, progressOf, requireAdmin, viewerOf, type SaveGrade } from './service'
import { AppError } from '../errors'
import { reasonOf, StoreUnavailable } from '../store/errors'
import { SchemaTooNew } from '../store/migrate'

export { createSaver } from './service'

export interface LearnersDeps {
  store: Store
  access: Pick<Access, 'mode' | 'identity'>
  tasks: TaskStore
  logger: Logger
  /** What regrade jobs grade with: the same grading as POST /api/grade. */
  grade: GradeDeps
  saveGrade: SaveGrade
}

const notFound = (what: string) => new AppError('not_found', 404, `No ${what} with this id`)

/** A database that does not answer is a 503 the client may retry, not a 500. */
const stored = <T>(work: () => Promise<T>): Promise<T> =>
  work().catch((error) => {
    if (error instanceof StoreUnavailable || error instanceof SchemaTooNew) {
      throw new AppError('store_unavailable', 503, error.message, undefined, { 'retry-after': '5' })
    }
    throw error
  })
/** How often a job's event stream looks at a job another replica runs. */
const JOB_POLL_MS = 1_000

export const learners = (deps: LearnersDeps) => {
  const { store, access, tasks } = deps
  const regrader = createRegrader({ store, grade: deps.grade, saveGrade: deps.saveGrade, logger: deps.logger })
  const viewer = (request: Request) => viewerOf(access, request)
  const admin = (request: Request) => {
    const who = viewer(request)
    requireAdmin(who)
    return who
  }

  /** `progress` per newly graded attempt, then `done` with the finished job. */
  const jobEvents = (id: string, first: Job) => {
    const events = eventStream()
    void (async () => {
      let job = first
      let sent = 0
      try {
        for (;;) {
          // Listening before reading: a change between the read and the wait is not missed.
          const change = regrader.changed(id, JOB_POLL_MS)
          job = (await store.getJob(id)) ?? job
          for (; sent < job.done; sent++) {
            await events.send('progress', { done: sent + 1, total: job.total, attempts: job.attempts })
          }
          if (job.status === 'done' || job.status === 'failed') break
          await change
        }
        await events.send('done', job)
      } catch (error) {
        await events.send('error', { success: false, error: reasonOf(error), error_type: 'store_unavailable' })
      } finally {
        events.close()
      }
    })()
    return new Response(events.body, { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } })
  }

  return new Elysia({ name: 'learners', tags: ['Learners'] })
    .onStop(() => regrader.close())
    .get(
      '/api/attempts',
      ({ query, request }) =>
        stored(() =>
          store.listAttempts(viewer(request), { task: query.task, limit: query.limit ?? 20, before: query.before }),
        ),
      {
        query: AttemptQuery,
        response: { 200: AttemptList, ...errorResponses(401, 503) },
        detail: {
          summary: "The caller's attempts, newest first",
          description: 'Pages of `limit` (1 to 100, default 20); pass `next` as `before` for the next page.',
        },
      },
    )
    .get(
      '/api/attempts/:id',
      ({ params, request }) =>
        stored(async () => {
          const attempt = await store.getAttempt(viewer(request), params.id)
          if (!attempt) throw notFound('attempt')
          return attempt
        }),
      {
        params: IdParams,
        response: { 200: Attempt, ...errorResponses(401, 404, 503) },
        detail: {
          summary: 'One attempt with its files and results',
          description: "Another learner's attempt is 404, like one that does not exist; an admin may read any.",
        },
      },
    )
    .get('/api/progress', ({ request }) => stored(() => progressOf(store, tasks, viewer(request).learner)), {
      response: { 200: Progress, ...errorResponses(401, 503) },
      detail: {
        summary: "The caller's standing at every task",
        description: 'One entry per task of the tasks folder: attempts, best score, last attempt, completed.',
      },
    })
    .delete(
      '/api/me/data',
      ({ request }) =>
        stored(async () => ({
          success: true as const,
          deleted: await store.deleteLearnerData(viewer(request).learner),
        })),
      {
        response: { 200: DeletedData, ...errorResponses(401, 503) },
        detail: {
          summary: "Delete all of the caller's attempts and conversations",
          description: 'Gone for good: there is no undo and no copy kept.',
        },
      },
    )
    .get(
      '/api/admin/progress',
      ({ query, request }) =>
        stored(async () => {
          admin(request)
          const learners = await store.classProgress(query.task)
          return {
            learners: learners.map(({ learner, tasks }) => ({
              learner,
              tasks: tasks.map(({ last: _, ...task }) => task),
            })),
          }
        }),
      {
        query: TaskQuery,
        response: { 200: ClassProgress, ...errorResponses(401, 403, 503) },
        detail: { summary: 'Progress of every learner (admin)', description: 'A learner key gets 403 forbidden.' },
      },
    )
    .get(
      '/api/admin/grades.csv',
      ({ query, request }) =>
        stored(async () => {
          admin(request)
          const csv = gradesCsv(await store.classProgress(query.task))
          return new Response(csv, {
            headers: {
              'content-type': 'text/csv; charset=utf-8; header=present',
              'content-disposition': 'attachment; filename="grades.csv"',
            },
          })
        }),
      {
        query: TaskQuery,
        response: { 200: t.String({ description: 'text/csv' }), ...errorResponses(401, 403, 503) },
        detail: {
          summary: 'Grades of every learner as CSV (admin)',
          description:
            'Header `learner,task,attempts,best_percent,last_percent,completed,last_attempt_at`, one row per ' +
            "learner and task, RFC 4180 quoting; a cell starting with =, +, -, @ gets a leading ' (no formulas).",
        },
      },
    )
    .post(
      '/api/admin/regrade',
      ({ body, request, set }) =>
        stored(async () => {
          admin(request)
          const job = await regrader.start(body.task, body.learner)
          set.status = 202
          return { job: job.id }
        }),
      {
        body: RegradeRequest,
        response: { 202: RegradeAccepted, ...errorResponses(401, 403, 404, 503) },
        detail: {
          summary: 'Grade every latest attempt at a task again (admin)',
          description:
            "Each learner's latest attempt (or one learner's) is graded again in the background with its saved " +
            'files against the task as it is now, as new attempts marked `regrade`; old attempts never change. ' +
            'Follow it at GET /api/admin/jobs/{id}.',
        },
      },
    )
    .get(
      '/api/admin/jobs/:id',
      ({ params, request }) =>
        stored(async () => {
          admin(request)
          await regrader.ready
          const job = await store.getJob(params.id)
          if (!job) throw notFound('job')
          if (request.headers.get('accept')?.includes('text/event-stream')) return jobEvents(job.id, job) as never
          return job
        }),
      {
        params: IdParams,
        response: { 200: RegradeJob, ...errorResponses(401, 403, 404, 503) },
        detail: {
          summary: 'A regrade job (admin)',
          description:
            'Status, attempts graded so far and the new attempts. With `Accept: text/event-stream`: one ' +
            '`progress` event per graded attempt, then `done` with the job.',
        },
      },
    )
    .get(
      '/api/conversations',
      ({ query, request }) =>
        stored(async () => {
          const who = viewer(request)
          if (query.learner !== undefined && query.learner !== who.learner) requireAdmin(who)
          const learner = query.learner ?? who.learner
          return { conversations: await store.listConversations({ learner, admin: false }, { task: query.task }) }
        }),
      {
        query: ConversationQuery,
        response: { 200: ConversationList, ...errorResponses(401, 403, 503) },
        detail: {
          summary: "The caller's tutor conversations",
          description: 'Most recently used first; an admin may name another `learner` (the class view).',
        },
      },
    )
    .get(
      '/api/conversations/:id',
      ({ params, request }) =>
        stored(async () => {
          const conversation = await store.getConversation(viewer(request), params.id)
          if (!conversation) throw notFound('conversation')
          return conversation
        }),
      {
        params: IdParams,
        response: { 200: Conversation, ...errorResponses(401, 404, 503) },
        detail: {
          summary: 'One tutor conversation with its messages',
          description: "Another learner's conversation is 404; an admin may read any.",
        },
      },
    )
    .delete(
      '/api/conversations/:id',
      ({ params, request }) =>
        stored(async () => {
          if (!(await store.deleteConversation(viewer(request), params.id))) throw notFound('conversation')
          return { success: true as const }
        }),
      {
        params: IdParams,
        response: { 200: Deleted, ...errorResponses(401, 404, 503) },
        detail: { summary: 'Delete one of your tutor conversations' },
      },
    )
}
