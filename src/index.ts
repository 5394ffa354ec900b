/**
 * Entry point: configuration → app → listen, and a graceful shutdown on SIGTERM/SIGINT: stop accepting,
 * give in-flight requests SHUTDOWN_GRACE_MS to finish, then close every service (which kills child processes).
 */
import { loadConfig, ConfigError } from './config'
import { createApp, closeServices } from './app'
import { createLogger } from './logging'
import { shutDown } from './shutdown'
import { OPEN_WARNING } from './access'
import { SchemaTooNew } from './store'

const startedAt = performance.now()

/** A bad setting (or an unreadable key file, src/access/keys.ts) ends the process with its message and code 2. */
function configured<T>(make: () => T): T {
  try {
    return make()
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message)
      process.exit(2)
    }
    throw error
  }
}

async function start() {
  const config = configured(() => loadConfig(process.env))
  const logger = createLogger(config.LOG_LEVEL)
  const created = configured(() => createApp({ config, logger }, startedAt))
  // The schema is migrated before the first request; a database migrated by a newer server is refused.
  await created.decorator.services.store.ready.catch((error) => {
    if (!(error instanceof SchemaTooNew)) throw error
    console.error(error.message)
    process.exit(2)
  })
  const app = created.listen({ hostname: config.HOST, port: config.PORT })
  const { services } = app.decorator
  const server = app.server!
  let stopping = false
  const shutdown = async (signal: string) => {
    if (stopping) return
    stopping = true
    logger.info('shutting down', { signal, grace_ms: config.SHUTDOWN_GRACE_MS })
    await shutDown(server, () => closeServices(services), config.SHUTDOWN_GRACE_MS, logger)
    logger.info('stopped')
    process.exit(0)
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
  process.on('SIGINT', () => void shutdown('SIGINT'))

  // Said only once the handlers are in place: whoever reads "listening" may send SIGTERM and get a clean stop.
  logger.info('listening', {
    url: `http://${config.HOST}:${server.port}`,
    startup_ms: Math.round(performance.now() - startedAt),
    max_upstream_requests: config.BUN_CONFIG_MAX_HTTP_REQUESTS,
  })
  // Fine on 127.0.0.1 for one person; anywhere else it must be said loudly.
  if (services.access.mode === 'open')
    logger.warn(OPEN_WARNING, { fix: 'set API_KEYS, API_KEYS_FILE, JWT_SECRET or JWT_JWKS_URL' })
  if (config.BUN_CONFIG_MAX_HTTP_REQUESTS <= 256) {
    logger.warn('at most 256 chat streams can run at once; start with BUN_CONFIG_MAX_HTTP_REQUESTS=4096 for more')
  }
}

await start()
