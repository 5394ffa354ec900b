/**
 * Prometheus metrics: one registry per app (tests build many apps in one process, so never prom-client's
 * global registry), served as text at GET /metrics. Every label takes values from a short fixed list (route
 * patterns, statuses, outcomes, route classes): a client or a learner's program cannot grow the series.
 *
 * Features get the small `Metrics` interface through services; app.ts wires the HTTP hook, the wrappers around
 * the runner (./runner.ts), the sandbox (./sandbox.ts) and the model providers (./providers.ts), and the route.
 *
 * @example
 * const metrics = createMetrics()
 * metrics.rateLimited('execution')
 * await metrics.text() // "# HELP tutor_rate_limited_total ..."
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'

export interface QueueStats {
  running: number
  waiting: number
  pool?: number
}

export interface Metrics {
  readonly contentType: string
  /** One finished HTTP request: `route` is the route's pattern (never the raw path). */
  httpRequest(method: string, route: string, status: number, seconds: number): void
  /** One run of learner code: `outcome` is success or an error_type; anything unknown counts as other. */
  execution(op: string, outcome: string, seconds: number): void
  rateLimited(routeClass: string): void
  /** Tokens one model call used; `client` is the access key's name or the peer address. */
  aiTokens(model: string, client: string, usage: { promptTokens: number; completionTokens: number }): void
  /** A request refused by the access check: missing, invalid, expired or unavailable (src/access). */
  authRefused(reason: string): void
  /** Time a run waited for its execution slot. */
  queueWait(seconds: number): void
  /** A sandbox that could not be started (src/metrics/sandbox.ts). */
  sandboxStartFailed(reason: string): void
  socketOpened(): void
  socketClosed(): void
  /** A model answer being streamed, for `feature` chat or judge (src/metrics/providers.ts). */
  modelStreamOpened(feature: Feature): void
  modelStreamClosed(feature: Feature): void
  /** A failed model call: `kind` is one of UPSTREAM_KINDS. */
  upstreamError(feature: Feature, provider: string, kind: string): void
  /** One /api/llm-judge request: pass, fail or the error_type. */
  judged(outcome: string): void
  /** One attempt saved (or not: `failed`) and how long the database took. */
  attemptSaved(outcome: 'saved' | 'failed', seconds: number): void
  /** Where the queue gauges read from at scrape time (the runner's health). */
  watchQueue(read: () => Promise<QueueStats | undefined> | QueueStats | undefined): void
  text(): Promise<string>
}

export type Feature = 'chat' | 'judge'

const PREFIX = 'tutor_'
const OUTCOMES = new Set([
  'success',
  'runtime_error',
  'timeout',
  'memory_limit',
  'output_limit',
  'syntax_error',
  'endpoint_not_found',
  // refusals before or instead of a run
  'queue_full',
  'sandbox_unavailable',
  'request_cancelled',
  'python_unavailable',
  'execution_unavailable',
  'upstream_error',
  'upstream_quota_exceeded',
])
const OPS = new Set(['parse', 'validate', 'call', 'tests'])
const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'])
const AUTH_REASONS = new Set(['missing', 'invalid', 'expired', 'unavailable'])
const SANDBOX_FAILURES = new Set(['spawn', 'zygote'])
export const UPSTREAM_KINDS = new Set([
  'rate_limited',
  'auth',
  'rejected',
  'server_error',
  'timeout',
  'connection',
  'cut_off',
  'other',
])
const PROVIDERS = new Set(['openai', 'anthropic'])
const JUDGE_OUTCOMES = new Set([
  'pass',
  'fail',
  'upstream_error',
  'provider_unavailable',
  'invalid_screenshot',
  'invalid_test_case',
  'validation_error',
  'rate_limited',
  'request_cancelled',
])
const bounded = (value: string, known: Set<string>) => (known.has(value) ? value : 'other')

/** The first `max` distinct values keep their own label; later ones are `other`. */
function boundedLabels(max: number) {
  const seen = new Set<string>()
  return (value: string) => {
    if (seen.has(value)) return value
    if (seen.size >= max) return 'other'
    seen.add(value)
    return value
  }
}

export function createMetrics({ processMetrics = true } = {}): Metrics {
  const registry = new Registry()
  const registers = [registry]
  const requests = new Counter({
    name: `${PREFIX}http_requests_total`,
    help: 'HTTP requests by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers,
  })
  const requestSeconds = new Histogram({
    name: `${PREFIX}http_request_duration_seconds`,
    help: 'HTTP request duration by method and route pattern',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  })
  const executions = new Counter({
    name: `${PREFIX}executions_total`,
    help: 'Runs of learner code by operation and outcome (success or the error_type)',
    labelNames: ['op', 'outcome'] as const,
    registers,
  })
  const executionSeconds = new Histogram({
    name: `${PREFIX}execution_duration_seconds`,
    help: 'Run duration including the wait for a slot, by operation',
    labelNames: ['op'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers,
  })
  const rateLimited = new Counter({
    name: `${PREFIX}rate_limited_total`,
    help: 'Requests refused with 429 by route class',
    labelNames: ['route_class'] as const,
    registers,
  })
  const aiTokens = new Counter({
    name: `${PREFIX}ai_tokens_total`,
    help: 'AI tokens used by model, client and kind (prompt or completion), as the providers report them',
    labelNames: ['model', 'client', 'kind'] as const,
    registers,
  })
  // Model names come from requests and clients are addresses without keys: past these counts, `other`.
  const models = boundedLabels(50)
  const clients = boundedLabels(2_000)
  const sockets = new Gauge({ name: `${PREFIX}websockets_active`, help: 'Open chat WebSockets', registers })
  const authRefused = new Counter({
    name: `${PREFIX}auth_refused_total`,
    help: 'Requests refused by the access check, by reason (missing, invalid, expired, unavailable)',
    labelNames: ['reason'] as const,
    registers,
  })
  const queueWait = new Histogram({
    name: `${PREFIX}execution_queue_wait_seconds`,
    help: 'Time a run waited for an execution slot',
    buckets: [0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  })
  const sandboxFailures = new Counter({
    name: `${PREFIX}sandbox_start_failures_total`,
    help: 'Sandboxes that could not be started, by reason',
    labelNames: ['reason'] as const,
    registers,
  })
  const modelStreams = new Gauge({
    name: `${PREFIX}model_streams_active`,
    help: 'Model answers being streamed right now, by feature (chat, judge)',
    labelNames: ['feature'] as const,
    registers,
  })
  const upstreamErrors = new Counter({
    name: `${PREFIX}upstream_errors_total`,
    help: 'Failed model API calls by feature, provider and kind (rate_limited, auth, rejected, server_error, timeout, connection, cut_off, other)',
    labelNames: ['feature', 'provider', 'kind'] as const,
    registers,
  })
  const judgeCalls = new Counter({
    name: `${PREFIX}judge_calls_total`,
    help: 'LLM judge requests by outcome (pass, fail or the error_type)',
    labelNames: ['outcome'] as const,
    registers,
  })
  const attemptSaves = new Counter({
    name: `${PREFIX}attempt_saves_total`,
    help: 'Attempts saved to the database, by outcome (saved, failed)',
    labelNames: ['outcome'] as const,
    registers,
  })
  const attemptSaveSeconds = new Histogram({
    name: `${PREFIX}attempt_save_duration_seconds`,
    help: 'Time to save one attempt (until committed), by outcome',
    labelNames: ['outcome'] as const,
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5],
    registers,
  })
  for (const outcome of ['saved', 'failed']) attemptSaves.inc({ outcome }, 0)
  // Series that exist from the start read 0 rather than missing, so a rate() over them has a baseline.
  for (const feature of ['chat', 'judge']) modelStreams.set({ feature }, 0)

  let readQueue: () => Promise<QueueStats | undefined> | QueueStats | undefined = () => undefined
  // One read per scrape, shared by the three gauges below (each collect runs during the same scrape).
  let pending: Promise<QueueStats | undefined> | undefined
  const queueStats = () => (pending ??= Promise.resolve(readQueue()).catch(() => undefined))
  const queueGauge = (name: string, help: string, pick: (stats: QueueStats) => number | undefined) =>
    new Gauge({
      name: `${PREFIX}${name}`,
      help,
      registers,
      async collect() {
        const value = await queueStats().then((stats) => stats && pick(stats))
        if (value !== undefined) this.set(value)
      },
    })
  queueGauge('execution_running', 'Runs holding a slot', (stats) => stats.running)
  queueGauge('execution_waiting', 'Runs waiting for a slot', (stats) => stats.waiting)
  queueGauge('execution_pool_size', 'Warm sandboxes ready for the next run', (stats) => stats.pool)

  // Process metrics (CPU, memory, file descriptors) start on the first scrape: an app nobody scrapes pays nothing.
  let defaults = !processMetrics
  return {
    contentType: registry.contentType,
    httpRequest(method, route, status, seconds) {
      const labels = { method: bounded(method, METHODS), route }
      requests.inc({ ...labels, status: String(status) })
      requestSeconds.observe(labels, seconds)
    },
    execution(op, outcome, seconds) {
      executions.inc({ op: bounded(op, OPS), outcome: bounded(outcome, OUTCOMES) })
      executionSeconds.observe({ op: bounded(op, OPS) }, seconds)
    },
    rateLimited: (routeClass) => rateLimited.inc({ route_class: routeClass }),
    aiTokens(model, client, usage) {
      const labels = { model: models(model), client: clients(client) }
      if (usage.promptTokens > 0) aiTokens.inc({ ...labels, kind: 'prompt' }, usage.promptTokens)
      if (usage.completionTokens > 0) aiTokens.inc({ ...labels, kind: 'completion' }, usage.completionTokens)
    },
    authRefused: (reason) => authRefused.inc({ reason: bounded(reason, AUTH_REASONS) }),
    queueWait: (seconds) => queueWait.observe(seconds),
    sandboxStartFailed: (reason) => sandboxFailures.inc({ reason: bounded(reason, SANDBOX_FAILURES) }),
    socketOpened: () => sockets.inc(),
    socketClosed: () => sockets.dec(),
    modelStreamOpened: (feature) => modelStreams.inc({ feature }),
    modelStreamClosed: (feature) => modelStreams.dec({ feature }),
    upstreamError: (feature, provider, kind) =>
      upstreamErrors.inc({ feature, provider: bounded(provider, PROVIDERS), kind: bounded(kind, UPSTREAM_KINDS) }),
    judged: (outcome) => judgeCalls.inc({ outcome: bounded(outcome, JUDGE_OUTCOMES) }),
    attemptSaved(outcome, seconds) {
      attemptSaves.inc({ outcome })
      attemptSaveSeconds.observe({ outcome }, seconds)
    },
    watchQueue(read) {
      readQueue = read
    },
    async text() {
      if (!defaults) {
        defaults = true
        collectDefaultMetrics({ register: registry, prefix: PREFIX })
      }
      try {
        return await registry.metrics()
      } finally {
        pending = undefined
      }
    },
  }
}
