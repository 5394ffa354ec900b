/**
 * The real server as a child process on a SQLite file: what it answered as saved survives SIGKILL, a regrade
 * job cut off by a kill is failed at the next start, a database from a newer server is refused.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SQL } from 'bun'
import { createLogger } from '../../src/logging'
import { createStore } from '../../src/store'
import { startServer, type ServerProcess } from '../support/process'
import { HOSTILE } from '../store/fixtures'

const folder = mkdtempSync(join(tmpdir(), 'tutor-server-'))
const running = new Set<ServerProcess>()
afterAll(async () => {
  for (const server of running) server.proc.kill('SIGKILL')
  await Promise.all([...running].map((server) => server.proc.exited))
  rmSync(folder, { recursive: true, force: true })
})

const env = (database: string) => ({
  DATABASE_URL: `sqlite:${join(folder, database)}`,
  LOG_LEVEL: 'info',
  EXEC_POOL_SIZE: '0',
  SANDBOX_UID_BASE: process.env.TEST_SANDBOX_UID_BASE ?? '100000',
})

async function serve(database: string) {
  const server = startServer(env(database))
  running.add(server)
  const listening = await server.line('listening')
  return { server, url: listening.url as string }
}

async function kill(server: ServerProcess) {
  server.proc.kill('SIGKILL')
  await server.proc.exited
  running.delete(server)
}

const json = async (url: string, init: RequestInit = {}) => {
  const response = await fetch(url, {
    ...init,
    headers: { 'content-type': 'application/json', ...(init.headers ?? {}) },
  })
  return { status: response.status, body: await response.json() }
}

const CALCULATOR = `# ${HOSTILE.replaceAll('\0', '')}
@endpoint('/calculate')
def calculate(a, b, operator):
    return {"result": a + b if operator == "+" else a - b}
`

describe('the real server', () => {
  test('an attempt answered as saved is there, whole, after SIGKILL and a restart', async () => {
    const first = await serve('kill.sqlite')
    const graded = await json(`${first.url}/api/grade`, {
      method: 'POST',
      body: JSON.stringify({ task: 'calculator-app', backendCode: CALCULATOR }),
    })
    await kill(first.server) // right after the answer
    expect(graded.status).toBe(200)
    expect(graded.body.saved).toBe(true)
    expect(graded.body.score.passed).toBeGreaterThan(0)

    const second = await serve('kill.sqlite')
    const read = await json(`${second.url}/api/attempts/${graded.body.attempt_id}`)
    expect(read.status).toBe(200)
    expect(read.body).toMatchObject({
      id: graded.body.attempt_id,
      learner: 'local',
      task: 'calculator-app',
      files: { backendCode: CALCULATOR },
      score: graded.body.score,
      groups: graded.body.groups,
      results: graded.body.results,
      success: graded.body.success,
      include_private: false,
    })
    await kill(second.server)
  })

  test('execute-test-cases with a task and "save": true keeps the run as an attempt', async () => {
    const { server, url } = await serve('tests.sqlite')
    const run = await json(`${url}/api/execute-test-cases`, {
      method: 'POST',
      body: JSON.stringify({ task: 'calculator-app', backendCode: CALCULATOR, save: true }),
    })
    expect(run.status).toBe(200)
    expect(run.body.saved).toBe(true)
    const read = await json(`${url}/api/attempts/${run.body.attempt_id}`)
    expect(read.body.results.map((r: { testName: string; status: string }) => [r.testName, r.status])).toEqual(
      run.body.results.map((r: { testName: string; status: string }) => [r.testName, r.status]),
    )
    expect(read.body.score.passed).toBe(run.body.summary.passed)
    const unsaved = await json(`${url}/api/execute-test-cases`, {
      method: 'POST',
      body: JSON.stringify({ task: 'calculator-app', backendCode: CALCULATOR }),
    })
    expect(unsaved.body.attempt_id).toBeUndefined()
    await kill(server)
  })

  test('a regrade job cut off by SIGKILL is failed at the next start, never running forever', async () => {
    // Three learners whose latest attempts take a while to grade (each endpoint test sleeps).
    const slow = `import time\n@endpoint('/calculate')\ndef calculate(a, b, operator):\n    time.sleep(0.4)\n    return {"result": 0}\n`
    const store = createStore({
      url: `sqlite:${join(folder, 'regrade.sqlite')}`,
      dataDir: folder,
      logger: createLogger('silent'),
    })
    await store.ready
    const none = { total: 0, passed: 0, failed: 0, errors: 0, skipped: 0 }
    for (const learner of ['ann', 'ben', 'cat']) {
      await store.saveAttempt({
        learner,
        task: 'calculator-app',
        files: { backendCode: slow },
        score: { passed: 0, graded: 1, total: 1, percent: 0 },
        success: false,
        groups: { backend: none, frontend: none, html: none },
        results: [],
        duration_ms: 1,
        include_private: false,
      })
    }
    await store.close()

    const first = await serve('regrade.sqlite')
    const started = await json(`${first.url}/api/admin/regrade`, {
      method: 'POST',
      body: JSON.stringify({ task: 'calculator-app' }),
    })
    expect(started.status).toBe(202)
    // Wait for the first graded attempt of three, then kill the server in the middle of the second.
    const events = await fetch(`${first.url}/api/admin/jobs/${started.body.job}`, {
      headers: { accept: 'text/event-stream' },
    })
    let seen = ''
    for await (const chunk of events.body!.pipeThrough(new TextDecoderStream())) {
      seen += chunk
      if (seen.includes('event: progress')) break
    }
    await kill(first.server)

    const second = await serve('regrade.sqlite')
    const job = await json(`${second.url}/api/admin/jobs/${started.body.job}`)
    expect(job.body).toMatchObject({ status: 'failed', total: 3, error: expect.stringContaining('stopped') })
    expect(job.body.done).toBeLessThan(3)
    await kill(second.server)
  })

  test('a database migrated by a newer server is refused at start with a clear message', async () => {
    const file = join(folder, 'newer.sqlite')
    const store = createStore({ url: `sqlite:${file}`, dataDir: folder, logger: createLogger('silent') })
    await store.ready
    await store.close()
    const sql = new SQL({ adapter: 'sqlite', filename: file })
    await sql`INSERT INTO schema_migrations (version, name, applied_at) VALUES (${7}, ${'007-later'}, ${'x'})`
    await sql.close()
    const server = startServer(env('newer.sqlite'))
    running.add(server)
    expect(await server.proc.exited).toBe(2)
    running.delete(server)
    expect(await server.stderr()).toContain('The database schema is version 7, newer than version 4')
  })
})
