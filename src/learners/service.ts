/**
 * What the learner routes do, without HTTP: who is asking, saving a grading as an attempt, progress over the
 * tasks folder, the class view and its CSV.
 */
import type { Access } from '../access'
import { AppError } from '../errors'
import type { GradeResponse, GradeResult } from '../grading/model'
import { gradeSummary, groupOf } from '../grading/service'
import type { ExecuteTestsResponse, SaveOutcome } from '../execution/model'
import type { Logger } from '../logging'
import type { Metrics } from '../metrics'
import { reasonOf } from '../store/errors'
import type { AttemptFiles, LearnerStanding, Store, Viewer } from '../store/port'
import type { TaskStore } from '../tasks/store'

/** The learner of an open server (no keys, no tokens): everyone is this one learner, and an admin. */
export const OPEN_LEARNER = 'local'

/** The caller as a learner: the access identity's name (`jwt:<sub>` for a token); admin by key role. */
export function viewerOf(access: Pick<Access, 'mode' | 'identity'>, request: Request): Viewer {
  if (access.mode === 'open') return { learner: OPEN_LEARNER, admin: true }
  const identity = access.identity(request)
  // The access hook has refused requests without a valid credential before any route runs.
  if (!identity) throw new AppError('unauthorized', 401, 'This route needs an access key or token')
  return { learner: identity.name, admin: identity.role === 'admin' }
}

export function requireAdmin(viewer: Viewer): void {
  if (!viewer.admin) throw new AppError('forbidden', 403, 'Only an admin key may use this route')
}

export interface SaverDeps {
  store: Store
  access: Pick<Access, 'mode' | 'identity'>
  tasks: TaskStore
  logger: Logger
  metrics?: Pick<Metrics, 'attemptSaved'>
}

export interface GradeToSave {
  /** The task's slug. */
  task: string
  files: AttemptFiles
  include_private: boolean
  response: GradeResponse
  /** A regrade job's attempt: whose it is, and the job. */
  learner?: string
  job?: string
}

/** What POST /api/grade and execute-test-cases call once they have a result: saved (and committed) or why not. */
export type SaveGrade = (request: Request | undefined, grade: GradeToSave) => Promise<SaveOutcome>

export function createSaver({ store, access, logger, metrics, tasks }: SaverDeps) {
  const saveGrade: SaveGrade = async (request, grade) => {
    const learner = grade.learner ?? viewerOf(access, request!).learner
    const started = performance.now()
    try {
      const { response } = grade
      const attempt = await store.saveAttempt({
        learner,
        task: grade.task,
        files: grade.files,
        score: response.score,
        success: response.success,
        groups: response.groups,
        results: response.results,
        duration_ms: response.duration_ms,
        include_private: grade.include_private,
        ...(grade.job ? { regrade: true, job: grade.job } : {}),
      })
      metrics?.attemptSaved('saved', (performance.now() - started) / 1000)
      return { attempt_id: attempt.id, saved: true }
    } catch (error) {
      metrics?.attemptSaved('failed', (performance.now() - started) / 1000)
      const reason = reasonOf(error)
      logger.warn('attempt not saved', { learner, task: grade.task, reason })
      return { attempt_id: null, saved: false, save_error: `The attempt was not saved: ${reason}` }
    }
  }

  /** execute-test-cases with a task: its report as an attempt, each result in the group of its test. */
  const saveTestRun = async (
    request: Request,
    run: { task: string; files: AttemptFiles; include_private: boolean; report: ExecuteTestsResponse },
  ): Promise<SaveOutcome> => {
    const task = await tasks.find(run.task)
    if (!task) return { attempt_id: null, saved: false, save_error: 'The attempt was not saved: unknown task' }
    const byName = new Map(task.tests.map((test) => [test.name, test]))
    const results: GradeResult[] = run.report.results.map((result) => {
      const test = byName.get(result.testName)
      return {
        ...result,
        group: test ? groupOf(test) : 'backend',
        kind: test?.kind === 'frontend_interactive' ? 'frontend_interactive' : 'endpoint',
      }
    })
    const summary = gradeSummary(task, results, performance.now() - run.report.duration_ms)
    return saveGrade(request, {
      task: task.slug,
      files: run.files,
      include_private: run.include_private,
      response: { ...summary, results },
    })
  }

  return { saveGrade, saveTestRun }
}

/** GET /api/progress: one entry per task of the tasks folder, in its order. */
export async function progressOf(store: Store, tasks: TaskStore, learner: string) {
  const [standings, list] = await Promise.all([store.progress(learner), tasks.list()])
  const bySlug = new Map(standings.map((standing) => [standing.task, standing]))
  return {
    learner,
    tasks: list.map((task) => {
      const standing = bySlug.get(task.slug)
      return {
        task: task.slug,
        title: task.name,
        attempts: standing?.attempts ?? 0,
        best: standing?.best ?? null,
        last: standing?.last ?? null,
        completed: standing?.completed ?? false,
      }
    }),
  }
}

export const CSV_HEADER = [
  'learner',
  'task',
  'attempts',
  'best_percent',
  'last_percent',
  'completed',
  'last_attempt_at',
]

/**
 * One CSV cell (RFC 4180): quoted when it holds a quote, comma or line break, quotes doubled. A cell a spreadsheet
 * would run as a formula (starting with =, +, -, @, or a tab or carriage return) gets a leading `'`.
 */
export function csvCell(value: string | number | boolean | null): string {
  let text = value === null ? '' : String(value)
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}

/** The class view as CSV: one row per learner and task, CRLF line ends. */
export function gradesCsv(learners: LearnerStanding[]): string {
  const lines = [CSV_HEADER.join(',')]
  for (const { learner, tasks } of learners) {
    for (const task of tasks) {
      const row = [
        learner,
        task.task,
        task.attempts,
        task.best?.percent ?? null,
        task.last?.percent ?? null,
        task.completed,
        task.last_at,
      ]
      lines.push(row.map(csvCell).join(','))
    }
  }
  return `${lines.join('\r\n')}\r\n`
}
