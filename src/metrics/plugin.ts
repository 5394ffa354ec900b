/**
 * The HTTP side of the metrics: one observation per finished request (route pattern, status, duration) and
 * GET /metrics. With access keys configured the access hook (src/access) already refuses a request without a
 * valid key (401); this route also refuses a learner's key (403): the figures show every client's traffic.
 */
import { Elysia } from 'elysia'
import type { Access } from '../access'
import { AppError } from '../errors'
import type { Metrics } from '.'

const started = new WeakMap<Request, number>()

/** `knownRoutes` lists the app's route patterns: a request refused before routing still counts under its route. */
export const metricsRoutes = (metrics: Metrics, access: Pick<Access, 'mode' | 'identity'>, knownRoutes: () => Set<string>) =>
  new Elysia({ name: 'metrics' })
    .onRequest(({ request }) => {
      started.set(request, performance.now())
    })
    .onAfterResponse({ as: 'global' }, ({ request, set, route, path }) => {
      const start = started.get(request)
      // Only patterns the app defines become label values; any other path is one series, `unmatched`.
      const pattern = route || (knownRoutes().has(path) ? path : 'unmatched')
      const status = typeof set.status === 'number' ? set.status : 200
      metrics.httpRequest(request.method, pattern, status, start === undefined ? 0 : (performance.now() - start) / 1000)
    })
    .get(
      '/metrics',
      async ({ request, set }) => {
        if (access.mode === 'keys' && access.identity(request)?.role !== 'admin') {
          throw new AppError('forbidden', 403, 'The metrics need an admin key')
        }
        set.headers['content-type'] = metrics.contentType
        return metrics.text()
      },
      {
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
