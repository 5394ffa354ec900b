/**
 * Regrade jobs: each learner's latest attempt at a task graded again, with its saved files, against the task as it
 * is now, saved as new attempts marked `regrade`; old attempts never change. A job runs in the background, one
 * attempt after another, through the same grading as POST /api/grade: the same execution slots, queue and limits,
 * under the one client name `regrade`, so a regrade never takes more slots than any single client may.
 *
 * The job's row in the database is the truth every replica reads. The server running a job renews its heartbeat;
 * a job whose server stopped is marked failed at the next start (SQLite: every unfinished job, one server per
 * file) or, on PostgreSQL, once its heartbeat is older than JOB_STALE_MS (another replica may still be running a
 * fresh one), by whichever replica looks first.
 */
import { AppError } from '../errors'
import { frontendFiles } from '../execution/browser-cases'
import { planTask } from '../grading/plan'
import { gradeTask, type GradeDeps } from '../grading/service'
import type { Logger } from '../logging'
import type { Attempt, RegradeJob, Store } from '../store/port'
import type { SaveGrade } from './service'

export const JOB_HEARTBEAT_MS = 5_000
export const JOB_STALE_MS = 30_000
const REGRADE_CLIENT = 'regrade'

/** The database took no new attempt: the job cannot go on. */
class NotSaved extends Error {}

export interface RegradeDeps {
  store: Store
  grade: GradeDeps
  saveGrade: SaveGrade
  logger: Logger
}

export interface Regrader {
  /** Settles once the jobs a stopped server left behind are marked failed (at start). */
  readonly ready: Promise<unknown>
  /** Creates the job and starts it in the background; 404 for an unknown task. */
  start(task: string, learner?: string): Promise<RegradeJob>
  /** Resolves at the next change of a job this server runs, or after `ms` (for a job of another replica). */
  changed(id: string, ms: number): Promise<void>
  /** Marks jobs of stopped servers failed. */
  sweep(): Promise<number>
  close(): void
}

export function createRegrader({ store, grade, saveGrade, logger }: RegradeDeps): Regrader {
  const listeners = new Map<string, Set<() => void>>()
  const stop = new AbortController()
  const notify = (id: string) => {
    for (const listener of listeners.get(id) ?? []) listener()
  }
  const staleAfter = store.kind === 'sqlite' ? 0 : JOB_STALE_MS
  const sweep = async () => {
    const failed = await store.failUnfinishedJobs(staleAfter)
    if (failed) logger.warn('regrade jobs of a stopped server marked failed', { jobs: failed })
    return failed
  }
  // At start, before this server runs a job of its own (on SQLite every unfinished job is a dead server's).
  const swept = store.ready.then(sweep).catch(() => 0)
  if (store.kind === 'postgres') {
    const sweeper = setInterval(() => void sweep().catch(() => {}), JOB_STALE_MS / 2)
    sweeper.unref?.()
    stop.signal.addEventListener('abort', () => clearInterval(sweeper))
  }

  async function gradeOne(job: RegradeJob, attempt: Attempt) {
    const selection = { task: job.task, include_private: attempt.include_private }
    const { task, tests } = await planTask(grade.tasks, selection, grade.config.EXEC_MAX_CASES)
    const frontend = attempt.files.frontendCode
    const response = await gradeTask(grade, {
      task,
      tests,
      backendCode: attempt.files.backendCode,
      files: frontend === undefined ? undefined : frontendFiles(frontend, grade.config.MAX_CODE_BYTES),
      client: REGRADE_CLIENT,
      signal: stop.signal,
    })
    const outcome = await saveGrade(undefined, {
      task: task.slug,
      files: attempt.files,
      include_private: attempt.include_private,
      response,
      learner: attempt.learner,
      job: job.id,
    })
    if (!outcome.saved) throw new NotSaved(outcome.save_error ?? 'The attempt was not saved')
  }

  async function run(job: RegradeJob, attempts: Attempt[]) {
    const heartbeat = setInterval(() => void store.updateJob(job.id, {}).catch(() => {}), JOB_HEARTBEAT_MS)
    heartbeat.unref?.()
    let done = 0
    try {
      await store.updateJob(job.id, { status: 'running' })
      notify(job.id)
      for (const attempt of attempts) {
        if (stop.signal.aborted) throw new Error('The server stopped before this job finished')
        try {
          await gradeOne(job, attempt)
        } catch (error) {
          // One attempt that cannot be graded (a task that lost its tests, a full queue) does not end the job.
          if (stop.signal.aborted || error instanceof NotSaved) throw error
          logger.warn('regrade of one attempt failed', { job: job.id, attempt: attempt.id, error: String(error) })
        }
        done++
        await store.updateJob(job.id, { done })
        notify(job.id)
      }
      await store.updateJob(job.id, { status: 'done', done })
      logger.info('regrade job done', { job: job.id, task: job.task, total: attempts.length })
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error)
      logger.warn('regrade job failed', { job: job.id, reason })
      await store.updateJob(job.id, { status: 'failed', error: reason }).catch(() => {})
    } finally {
      clearInterval(heartbeat)
      notify(job.id)
    }
  }

  return {
    ready: swept,
    async start(taskName, learner) {
      await swept
      const task = await grade.tasks.find(taskName)
      if (!task) throw new AppError('task_not_found', 404, `No task named "${taskName}"`)
      const attempts = await store.latestAttempts(task.slug, learner)
      const job = await store.createJob(task.slug, learner ?? null, attempts.length)
      void run(job, attempts)
      return job
    },
    changed(id, ms) {
      return new Promise<void>((resolve) => {
        let set = listeners.get(id)
        if (!set) listeners.set(id, (set = new Set()))
        const done = () => {
          clearTimeout(timer)
          set.delete(done)
          if (set.size === 0) listeners.delete(id)
          resolve()
        }
        const timer = setTimeout(done, ms)
        set.add(done)
      })
    },
    sweep,
    close() {
      stop.abort()
    },
  }
}
