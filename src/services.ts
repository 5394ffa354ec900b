/**
 * What features share: each port (runner, providers, tasks, servers) reports its own health and knows how to
 * close. `createApp` takes any of them ready-made (tests pass fakes or local fake servers) and builds the rest
 * from the configuration.
 */
export interface HealthReport {
  /** false makes `/health` say "degraded"; the check's other fields say why. */
  ok: boolean
  [field: string]: unknown
}

export interface Service {
  health(): Promise<Record<string, HealthReport>> | Record<string, HealthReport>
  /** Stop background work and child processes; called once on shutdown. */
  close(): Promise<void> | void
  /**
   * Start-up work nothing needs before the server listens (probes, loading): started right after listening, and
   * by a /health that finds it not done, which then reports the check as `warming_up` instead of waiting.
   * Resolves once it is done.
   */
  warmUp?(): Promise<void>
}

/** The health of checks still warming up: ok (nothing failed), and saying so. */
export const warmingUp = (...checks: string[]): Record<string, HealthReport> =>
  Object.fromEntries(checks.map((check) => [check, { ok: true, warming_up: true }]))

/** Whether `promise` is still pending, without waiting for it. */
export const pending = (promise: Promise<unknown>): boolean => Bun.peek.status(promise) === 'pending'
