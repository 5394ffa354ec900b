/**
 * A CodeRunner whose runs last until the test says so: `started()` resolves with the next run as it begins, and
 * the test ends it with `finish()` or `fail()`. Like the real runner, a run whose request signal aborts ends at
 * once with request_cancelled. For quota tests, where what matters is how long a request holds its place.
 */
import { AppError } from '../../src/errors'
import type { CodeRunner, Job, RunOutcome } from '../../src/execution/runner'

export interface GatedRun {
  job: Job
  finish(): void
  fail(error: Error): void
  /** Settles when the run ended, however. */
  ended: Promise<unknown>
}

const VALID: RunOutcome = { messages: [{ type: 'valid' }], stdout: '', stderr: '', method: 'local_sandbox' }

export function gateRunner() {
  const runs: GatedRun[] = []
  let read = 0
  let wake: (() => void) | undefined
  const runner: CodeRunner = {
    method: 'local_sandbox',
    run(job, options) {
      const done = Promise.withResolvers<RunOutcome>()
      const run: GatedRun = {
        job,
        finish: () => done.resolve(VALID),
        fail: (error) => done.reject(error),
        ended: done.promise.catch(() => {}),
      }
      options?.signal?.addEventListener(
        'abort',
        () => done.reject(new AppError('request_cancelled', 499, 'cancelled')),
        { once: true },
      )
      runs.push(run)
      options?.onStart?.()
      wake?.()
      return done.promise
    },
    health: () => ({}),
    close() {},
  }
  /** The next run to start (already started or still to come). */
  const started = async (): Promise<GatedRun> => {
    while (read >= runs.length) await new Promise<void>((resolve) => (wake = resolve))
    return runs[read++]!
  }
  return { runner, runs, started }
}

/** A runner that answers every job at once (validate: valid), for tests about what happens around a run. */
export const instantRunner = (): CodeRunner => ({
  method: 'local_sandbox',
  run: async () => VALID,
  health: () => ({}),
  close() {},
})
