/**
 * The learner routes on a real PostgreSQL: two app instances sharing it (as replicas do), and the database going
 * away in the middle of a run and coming back.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { closeServices } from '../../src/app'
import { testApp } from '../support/app'
import { get, parseEvents, post } from '../support/http'
import { NO_POSTGRES, POSTGRES_BIN, startPostgres, type TestPostgres } from '../support/postgres'
import { getEvents } from './helpers'

type App = ReturnType<typeof testApp>

describe.skipIf(!POSTGRES_BIN)(`learners on PostgreSQL${POSTGRES_BIN ? '' : ` (skipped: ${NO_POSTGRES})`}`, () => {
  let postgres: TestPostgres
  const apps: App[] = []
  const appOn = (url: string, config: Record<string, string> = {}) => {
    const app = testApp({ config: { DATABASE_URL: url, ...config } })
    apps.push(app)
    return app
  }
  beforeAll(async () => {
    postgres = (await startPostgres())!
  })
  afterAll(async () => {
    await Promise.all(apps.map((app) => closeServices(app.decorator.services)))
    await postgres?.stop()
  })

  test('two instances on one database: an attempt saved by one is read by the other, a regrade too', async () => {
    const url = await postgres.database('replicas')
    const [one, two] = [appOn(url), appOn(url)]
    const graded = await post(one, '/api/grade', { task: 'calculator-app' })
    const id = graded.body.attempt_id
    expect(graded.body.saved).toBe(true)
    const read = await get(two, `/api/attempts/${id}`)
    expect(read.status).toBe(200)
    expect(read.body).toMatchObject({ learner: 'local', results: graded.body.results, score: graded.body.score })

    const started = await post(one, '/api/admin/regrade', { task: 'calculator-app' })
    expect(started.status).toBe(202)
    // The other instance follows the job from the database alone.
    const stream = await getEvents(two, `/api/admin/jobs/${started.body.job}`)
    const events = parseEvents(stream.text)
    expect(events.at(-1)).toEqual({
      event: 'done',
      data: expect.objectContaining({ status: 'done', done: 1, total: 1 }),
    })
    const made = events.at(-1)!.data.attempts[0]
    expect((await get(two, `/api/attempts/${made}`)).body).toMatchObject({ regrade: true })
    expect(
      (await get(two, '/api/progress')).body.tasks.find((t: { task: string }) => t.task === 'calculator-app'),
    ).toMatchObject({ attempts: 2 })
  })

  test('the database away mid-run: grading still answers, unsaved and why; health degraded; saving resumes', async () => {
    const url = await postgres.database('away')
    const app = appOn(url, { STORE_TIMEOUT_MS: '2000' })
    expect((await post(app, '/api/grade', { task: 'calculator-app' })).body.saved).toBe(true)
    await postgres.kill()
    try {
      const graded = await post(app, '/api/grade', { task: 'calculator-app' })
      expect(graded.status).toBe(200)
      expect(graded.body).toMatchObject({
        task: 'Calculator App',
        attempt_id: null,
        saved: false,
        save_error: expect.stringContaining('not saved'),
      })
      expect(graded.body.results.length).toBeGreaterThan(0)
      const health = await get(app, '/health')
      expect(health.body.status).toBe('degraded')
      expect(health.body.checks.store).toMatchObject({ ok: false, kind: 'postgres', reachable: false })
      expect((await get(app, '/api/attempts')).status).toBe(503)
    } finally {
      await postgres.restart()
    }
    const again = await post(app, '/api/grade', { task: 'calculator-app' })
    expect(again.body.saved).toBe(true)
    expect((await get(app, `/api/attempts/${again.body.attempt_id}`)).status).toBe(200)
    expect((await get(app, '/health')).body.checks.store).toMatchObject({ ok: true, reachable: true })
    const metrics = await get(app, '/metrics')
    expect(metrics.body).toMatch(/tutor_attempt_saves_total\{outcome="failed"\} 1/)
  })
})
