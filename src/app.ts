/**
 * createApp(deps): the whole HTTP/WebSocket surface, assembled from feature plugins behind the request guard. Everything a feature needs
 * comes in through `deps`; what a test does not pass is built from `deps.config`. No globals.
 */
import { Elysia } from 'elysia'
import type { Config } from './config'
import type { Service } from './services'
import { createLogger, requestLogging, type Logger } from './logging'
import { errors } from './errors'
import { bodyParser } from './http/body'
import { corsHeaders, originPolicy } from './http/cors'
import { hostPolicy, requestGuard } from './http/guard'
import { docs, type RouteLike } from './http/docs'
import { health } from './health'
import { chat } from './chat'
import { execution, createCodeRunner } from './execution'
import type { CodeRunner } from './execution/runner'
import { createProviderRegistry } from './providers'
import type { ProviderRegistry } from './providers/provider'
import { tasks, createTaskStore } from './tasks'
import type { TaskStore } from './tasks/store'
import { judge } from './judge'
import { servers, createServerManager } from './servers'
import type { ServerManager } from './servers/manager'
import { createSandbox, type Sandbox } from './sandbox'
import { createBrowserRunner, type BrowserRunner } from './browser'
import type { Identify } from './http/client'
import { accessControl, createAccess, isPublic, WS_PATH, type Access } from './access'
import { createRateLimiter, rateLimiting, routeClass, type RateLimiter } from './access/rate-limit'
import { createLimitStore, type LimitStoreService } from './access/limit-store'
import { createQuotas, type Quotas } from './access/quotas'
import { createMetrics, type Metrics } from './metrics'
import { metricsRoute, requestMetrics } from './metrics/plugin'
import { routeResolver } from './http/routes'
import { bodySchemas } from './http/body-schema'
import { measuredRunner } from './metrics/runner'
import { measuredProviders } from './metrics/providers'
import { measuredSandbox } from './metrics/sandbox'
import { auditedRunner, codeRunAudit } from './metrics/audit'
import { grading } from './grading'
import { runTaskTests } from './grading/service'
import { web } from './web'
import { createStore, type Store } from './store'
import { createSaver, learners } from './learners'
import packageJson from '../package.json'

export const VERSION: string = packageJson.version

export interface Services {
  config: Config
  logger: Logger
  /** Access keys and tokens (src/access): which requests may pass, and under which name. */
  access: Access
  /** Who is calling (slots, server ownership, rate limits, logs): key name, jwt:<sub>, else the peer address. */
  identify: Identify
  /** The counters of every limit: memory, or Redis shared by replicas (src/access/limit-store.ts). */
  limits: LimitStoreService
  /** Requests per minute per client and route class (src/access/rate-limit.ts). */
  rateLimits: RateLimiter
  /** Concurrent executions and sockets, AI tokens per day, per client (src/access/quotas.ts). */
  quotas: Quotas
  /** The one sandbox every learner program runs in (executions and Python servers). */
  /** This app's Prometheus registry (src/metrics); never shared with another app in the process. */
  metrics: Metrics
  sandbox: Sandbox
  runner: CodeRunner
  providers: ProviderRegistry
  tasks: TaskStore
  servers: ServerManager
  /** Headless Chromium for browser tests (src/browser); skips them when Chromium is missing. */
  browser: BrowserRunner
  /** Attempts, progress, conversations and regrade jobs: SQLite or PostgreSQL (src/store). */
  store: Store
}

export type AppDeps = Pick<Services, 'config'> & Partial<Omit<Services, 'config'>>

/** Fills in every service a caller did not provide, from the configuration. */
export function createServices(deps: AppDeps): Services {
  const { config } = deps
  const logger = deps.logger ?? createLogger(config.LOG_LEVEL)
  const metrics = deps.metrics ?? createMetrics()
  const sandbox = measuredSandbox(deps.sandbox ?? createSandbox({ config, logger }), metrics)
  const access = deps.access ?? createAccess(config)
  const identify = deps.identify ?? access.identify
  const limits = deps.limits ?? createLimitStore({ url: config.REDIS_URL, timeoutMs: config.REDIS_TIMEOUT_MS, logger })
  return {
    config,
    logger,
    access,
    identify,
    limits,
    rateLimits: deps.rateLimits ?? createRateLimiter(limits),
    quotas:
      deps.quotas ??
      createQuotas({ config, store: limits, identify, identity: access.identity, meter: metrics.aiTokens }),
    metrics,
    sandbox,
    runner: measuredRunner(auditedRunner(deps.runner ?? createCodeRunner(config, logger, sandbox)), metrics),
    providers: deps.providers ?? createProviderRegistry(config),
    tasks: deps.tasks ?? createTaskStore(config, logger),
    servers: deps.servers ?? createServerManager(config, logger, sandbox),
    browser: deps.browser ?? createBrowserRunner({ config, logger, sandbox }),
    store:
      deps.store ??
      createStore({
        url: config.DATABASE_URL,
        dataDir: config.DATA_DIR,
        timeoutMs: config.STORE_TIMEOUT_MS,
        retentionDays: config.RETENTION_DAYS,
        logger,
      }),
  }
}

/**
 * Starts what the services do after the server listens (probes, the harness, the zygote, task loading) and
 * resolves once all of it is done; /health says `warming_up` for what is still running.
 */
export async function warmUp(services: Services): Promise<void> {
  const ports: Service[] = [services.sandbox, services.runner, services.tasks, services.browser]
  await Promise.allSettled(ports.map((port) => port.warmUp?.()))
}

/** Closes every service (child processes, watchers, pools); safe to call more than once. */
export async function closeServices(services: Services): Promise<void> {
  const ports = [
    services.servers,
    services.runner,
    services.tasks,
    services.providers,
    services.limits,
    services.browser,
  ]
  await Promise.allSettled(ports.map((port) => port.close()))
  await services.store.close() // after the features that save into it
  await services.sandbox.close() // last: the features above release their sandboxes first
}

/**
 * @example
 * const app = createApp({ config: loadConfig(process.env) }).listen(4828)
 */
export function createApp(deps: AppDeps, startedAt = performance.now()) {
  const services = createServices(deps)
  const { config, logger } = services
  const origins = originPolicy(config.CORS_ORIGINS)
  const hosts = hostPolicy(config.ALLOWED_HOSTS, config.HOST)
  // Gradings are saved as attempts by the routes that answer them (grading itself never sees the store).
  const saver = createSaver(services)
  const gradingDeps = { ...services, providers: measuredProviders(services.providers, services.metrics, 'judge') }

  // The document generator needs the finished route table, which exists only after the last `.use`.
  let routes: () => RouteLike[] = () => []
  // Limits, audit and metrics are keyed on the route a path belongs to, never on its spelling (`/api/grade/`).
  // Preflight routes (`OPTIONS /*` of the CORS plugin) match every path: they name no route of ours.
  const routeOf = routeResolver(() =>
    routes()
      .filter((route) => route.method !== 'OPTIONS')
      .map((route) => route.path),
  )
  const bodySchemaOf = bodySchemas(() => app.routes, routeOf)
  const bodyLimit = (path: string) =>
    routeOf(path) === '/api/llm-judge' ? config.JUDGE_MAX_BODY_BYTES : config.MAX_BODY_BYTES
  const app = new Elysia({
    name: 'ai-tutor-backend',
    serve: { maxRequestBodySize: Math.max(config.MAX_BODY_BYTES, config.JUDGE_MAX_BODY_BYTES) + 1024 },
    // A chat frame is a request body too; Bun's default would accept 16 MB.
    websocket: { maxPayloadLength: config.MAX_BODY_BYTES },
  })
    .decorate('services', services)
    .use(requestLogging(logger, services.identify))
    .use(codeRunAudit(logger, { includeCode: config.LOG_LEVEL === 'debug', routeOf }))
    .use(requestMetrics(services.metrics, routeOf))
    .use(errors(logger))
    .use(requestGuard({ hosts, origins }))
    .use(accessControl(services.access, services.metrics.authRefused))
    .use(rateLimiting(services.rateLimits, services.quotas, services.metrics.rateLimited, routeOf))
    .use(corsHeaders(origins))
    .use(bodyParser({ limitFor: bodyLimit, maxDepth: config.MAX_BODY_DEPTH, schemaFor: bodySchemaOf }))
    .use(
      docs(
        VERSION,
        () => routes(),
        (method, path): Record<string, string> =>
          routeClass(method, path)
            ? {
                429: 'rate_limited: over the per-minute limit of this client and route class; quota_exceeded: over a quota (concurrent runs, AI tokens of the day)',
              }
            : {},
        // The access hook (src/access) lets the public routes and the chat socket's own check through.
        (path) => !isPublic(path) && path !== WS_PATH,
      ),
    )
    .use(
      health({
        version: VERSION,
        startedAt,
        detailed: services.access.admits,
        services: [
          services.access,
          services.limits,
          services.sandbox,
          services.runner,
          services.providers,
          services.tasks,
          services.servers,
          services.browser,
          services.store,
        ],
      }),
    )
    .use(metricsRoute(services.metrics, services.access))
    // Each feature gets its own view of the providers, so the metrics tell chat streams from judge calls.
    .use(chat({ ...services, providers: measuredProviders(services.providers, services.metrics, 'chat') }))
    .use(
      execution({
        ...services,
        // With a task, execute-test-cases runs the task's own tests by the grading service's plan.
        taskTests: (input) => runTaskTests(gradingDeps, input),
        saveTestRun: saver.saveTestRun,
      }),
    )
    .use(tasks(services))
    .use(judge({ ...services, providers: measuredProviders(services.providers, services.metrics, 'judge') }))
    .use(grading({ ...gradingDeps, saveAttempt: saver.saveGrade }))
    .use(learners({ ...services, grade: gradingDeps, saveGrade: saver.saveGrade }))
    .use(servers(services))
    .use(web())
  routes = () => app.routes
  return app
}

export type App = ReturnType<typeof createApp>
