/**
 * Counts every run of learner code where its outcome is produced: a wrapper around the CodeRunner port, so the
 * local sandbox and OneCompiler are measured alike and the routes stay as they are.
 */
import { AppError } from '../errors'
import type { CodeRunner, RunOutcome } from '../execution/runner'
import type { Metrics, QueueStats } from '.'

/** success, or the error_type a client sees (a stop we made wins, as in src/execution/service.ts). */
export function outcomeOf(outcome: RunOutcome): string {
  if (outcome.stopped) return outcome.stopped.kind
  const last = outcome.messages.findLast((m) => m.type !== 'case' && m.type !== 'done')
  if (last?.type === 'error') return typeof last.error_type === 'string' ? last.error_type : 'runtime_error'
  return 'success'
}

export function measuredRunner(
  runner: CodeRunner,
  metrics: Pick<Metrics, 'execution' | 'watchQueue' | 'queueWait'>,
): CodeRunner {
  metrics.watchQueue(async () => {
    const execution = (await runner.health()).execution as { queue?: QueueStats; pool?: number } | undefined
    return (
      execution?.queue && { running: execution.queue.running, waiting: execution.queue.waiting, pool: execution.pool }
    )
  })
  return {
    method: runner.method,
    async run(job, options) {
      const started = performance.now()
      const seconds = () => (performance.now() - started) / 1000
      // The runner calls onStart when the job has its slot: the time until then is the wait in the queue.
      const onStart = () => {
        metrics.queueWait(seconds())
        options?.onStart?.()
      }
      try {
        const outcome = await runner.run(job, { ...options, onStart })
        metrics.execution(job.op, outcomeOf(outcome), seconds())
        return outcome
      } catch (error) {
        // A refusal (queue_full, sandbox_unavailable) or a client that left: an outcome of its own.
        metrics.execution(job.op, error instanceof AppError ? error.code : 'error', seconds())
        throw error
      }
    },
    health: () => runner.health(),
    warmUp: () => runner.warmUp?.() ?? Promise.resolve(),
    close: () => runner.close(),
  }
}
