/**
 * Sandbox start failures: a wrapper around the Sandbox service, so executions and Python servers are counted
 * alike. A spawn that throws (no free process slot, no file descriptor, a missing binary) is a failure to start;
 * what learner code does once started is an execution outcome (./runner.ts).
 */
import type { Sandbox } from '../sandbox'
import type { Metrics } from '.'

export function measuredSandbox(sandbox: Sandbox, metrics: Pick<Metrics, 'sandboxStartFailed'>): Sandbox {
  return {
    ready: () => sandbox.ready(),
    requireUsable: () => sandbox.requireUsable(),
    spawn(program, options) {
      try {
        return sandbox.spawn(program, options)
      } catch (error) {
        metrics.sandboxStartFailed('spawn')
        throw error
      }
    },
    warm(payload) {
      const boxes = sandbox.warm(payload)
      if (!boxes) return null
      return {
        async spawn(limits) {
          try {
            return await boxes.spawn(limits)
          } catch (error) {
            metrics.sandboxStartFailed('zygote')
            throw error
          }
        },
        close: () => boxes.close(),
      }
    },
    health: () => sandbox.health(),
    warmUp: () => sandbox.warmUp?.() ?? Promise.resolve(),
    close: () => sandbox.close(),
  }
}
