/**
 * The HTTP side of the metrics: one observation per finished request (route pattern, status, duration) and
 * GET /metrics. With access keys configured the access hook (src/access) already refuses a request without a
 * valid key (401); this route also refuses a learner's key (403): the figures show every client's traffic.
 */
import { Elysia, t } from 'elysia'
import type { Access } from '../access'
import { AppError, errorResponses } from '../errors'
import type { Metrics } from '.'

const started = new WeakMap<Request, number>()

/**
 * `routeOf` gives a path's route pattern: a request refused before routing (401, 429) or by its handler still
 * counts under its route.
 */
export const requestMetrics = (metrics: Metrics, routeOf: (path: string) => string | undefined) =>
  new Elysia({ name: 'request-metrics' })
    .onRequest(({ request }) => {
      started.set(request, performance.now())
    })
    .onAfterResponse({ as: 'global' }, ({ request, set, route, path }) => {
      const start = started.get(request)
      // Only patterns the app defines become label values; any other path is one series, `unmatched`.
      const pattern = route || routeOf(path) || 'unmatched'
      const status = typeof set.status === 'number' ? set.status : 200
      metrics.httpRequest(request.method, pattern, status, start === undefined ? 0 : (performance.now() - start) / 1000)
    })

/** GET /metrics; used after the error plugin, so a refusal is the usual error envelope. */
export const metricsRoute = (metrics: Metrics, access: Pick<Access, 'mode' | 'identity'>) =>
  new Elysia({ name: 'metrics' }).get(
    '/metrics',
    async ({ request, set }) => {
      if (access.mode !== 'open' && access.identity(request)?.role !== 'admin') {
        throw new AppError('forbidden', 403, 'The metrics need an admin key')
      }
      set.headers['content-type'] = metrics.contentType
      // Requests are counted after their response is sent, one event-loop turn later (Elysia's onAfterResponse):
      // waiting one turn makes a scrape include every request answered before it.
      await new Promise((resolve) => setImmediate(resolve))
      return metrics.text()
    },
    {
      response: { 200: t.String({ description: 'Prometheus text format 0.0.4' }), ...errorResponses(403) },
      detail: {
        tags: ['General'],
        summary: 'Prometheus metrics',
        description:
          'Prometheus text format, names prefixed `tutor_`: HTTP requests and durations by route and status, runs ' +
          'of learner code by outcome and duration, execution queue and pool, open chat WebSockets, rate-limit ' +
          'refusals, process figures. With access keys configured it needs an admin key (403 for a learner key).',
      },
    },
  )
