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
}
