/**
 * GET / and GET /health. Health gathers the reports of every service (python, sandbox, execution mode, chat
 * providers, tasks, ...) and says "degraded" when any of them is not ok. It never shows keys.
 */
import { Elysia, t } from 'elysia'
import type { HealthReport, Service } from '../services'
import { errorResponses } from '../errors'

export const RootResponse = t.Object(
  { message: t.String(), version: t.String(), docs: t.String() },
  { title: 'RootResponse' },
)

export const HealthResponse = t.Object(
  {
    status: t.Union([t.Literal('healthy'), t.Literal('degraded')]),
    message: t.String(),
    version: t.String(),
    uptime_s: t.Number(),
    warming_up: t.Optional(
      t.Array(t.String(), {
        description: 'Checks whose start-up work (probes, loading) is still running; each says `warming_up: true`',
      }),
    ),
    checks: t.Record(t.String(), t.Object({ ok: t.Boolean() }, { additionalProperties: true })),
  },
  { title: 'HealthResponse' },
)
export type HealthResponse = typeof HealthResponse.static

/** What a caller without a valid access key sees when keys are configured (src/access). */
export const HealthSummary = t.Object(
  { status: HealthResponse.properties.status, message: t.String(), version: t.String() },
  { title: 'HealthSummary' },
)

export interface HealthDeps {
  version: string
  startedAt: number
  services: Service[]
  /** May this caller see uptime and checks? With access keys, only a caller with a valid key (src/access). */
  detailed?: (request: Request) => boolean
}

export async function collectHealth({ version, startedAt, services }: HealthDeps): Promise<HealthResponse> {
  const reports = await Promise.all(services.map((service) => service.health()))
  const checks = Object.assign({}, ...reports) as HealthResponse['checks']
  const failing = Object.keys(checks).filter((name) => !checks[name]!.ok)
  const warming = Object.keys(checks).filter((name) => (checks[name] as HealthReport).warming_up === true)
  const said = [
    ...(failing.length ? [`Degraded: ${failing.join(', ')}`] : []),
    ...(warming.length ? [`Warming up: ${warming.join(', ')}`] : []),
  ]
  return {
    status: failing.length ? 'degraded' : 'healthy',
    message: said.length ? said.join('. ') : 'All systems operational',
    version,
    uptime_s: Math.round((performance.now() - startedAt) / 10) / 100,
    ...(warming.length ? { warming_up: warming } : {}),
    checks,
  }
}

export const health = (deps: HealthDeps) =>
  new Elysia({ name: 'health', tags: ['General'] })
    .get(
      '/',
      ({ request, redirect }) =>
        // A person's browser goes to the playground; API clients (no text/html in Accept) keep the JSON.
        request.headers.get('accept')?.includes('text/html')
          ? (redirect('/play', 302) as never)
          : { message: 'AI Coding Assistant Backend is running!', version: deps.version, docs: '/openapi' },
      {
        response: { 200: RootResponse, ...errorResponses() },
        detail: {
          summary: 'Liveness message',
          description: 'A browser (Accept: text/html) is redirected to the playground page, /play.',
        },
      },
    )
    .get(
      '/health',
      async ({ request }) => {
        const report = await collectHealth(deps)
        if (deps.detailed?.(request) ?? true) return report
        return { status: report.status, message: report.message, version: report.version }
      },
      {
        response: { 200: t.Union([HealthResponse, HealthSummary]), ...errorResponses() },
        detail: {
          summary: 'Detailed health',
          description:
            'Python version, sandbox availability, execution mode, configured chat providers, access mode, uptime. ' +
            'With access keys configured, callers without a valid key get only status, message and version.',
        },
      },
    )
