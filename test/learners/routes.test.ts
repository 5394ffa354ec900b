/**
 * The learner routes as clients use them, in process, on a SQLite file: attempts saved by POST /api/grade,
 * reading them back, progress, the admin views and CSV, regrade jobs, conversations, deleting one's data.
 * Gradings here send no code, so they need no sandbox: every test is skipped and the attempt is still saved.
 */
import { describe, expect, test } from 'bun:test'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { testApp } from '../support/app'
import { get, parseEvents, post, postEvents } from '../support/http'
import { keysFile } from '../support/keys'
import { HOSTILE } from '../store/fixtures'
import { bearer, del, getEvents, JWT_SECRET, tokenFor } from './helpers'

const keys = keysFile([
  { name: 'alice', key: 'alice-key' },
  { name: 'bob', key: 'bob-key' },
  { name: '@sum', key: 'sum-key' },
  { name: '-minus', key: 'minus-key' },
  { name: 'teacher', key: 'teacher-key', role: 'admin' },
])
const folder = mkdtempSync(join(tmpdir(), 'tutor-learners-'))
const app = testApp({
  config: { API_KEYS_FILE: keys, JWT_SECRET, DATABASE_URL: `sqlite:${join(folder, 'tutor.sqlite')}` },
})
const alice = bearer('alice-key')
const bob = bearer('bob-key')
const teacher = bearer('teacher-key')
const grade = (headers: Record<string, string>, body: Record<string, unknown> = {}) =>
  post(app, '/api/grade', { task: 'calculator-app', ...body }, headers)

describe('attempts', () => {
  test('a grading is saved and its answer says so; the attempt reads back as the learner saw it', async () => {
    const answer = await grade(alice, { frontendCode: { html: `<p>${HOSTILE}</p>` } })
    const id = answer.body.attempt_id
    expect([answer.status, answer.body.saved, typeof id]).toEqual([200, true, 'string'])
    const read = await get(app, `/api/attempts/${id}`, alice)
    expect(read.status).toBe(200)
    expect(read.body).toEqual({
      id,
      learner: 'alice',
      task: 'calculator-app',
      created_at: expect.stringMatching(/Z$/),
      score: answer.body.score,
      success: answer.body.success,
      duration_ms: answer.body.duration_ms,
      regrade: false,
      include_private: false,
      files: { frontendCode: { html: `<p>${HOSTILE}</p>` } },
      groups: answer.body.groups,
      results: answer.body.results,
    })
  })

  test("a streamed grading's summary event carries the saved attempt's id", async () => {
    const stream = await postEvents(app, '/api/grade', { task: 'calculator-app' }, alice)
    const summary = stream.events.at(-1)!
    expect(summary.event).toBe('summary')
    expect(summary.data.saved).toBe(true)
    const read = await get(app, `/api/attempts/${summary.data.attempt_id}`, alice)
    // Events come as tests finish; the attempt keeps the task's order.
    const byName = (a: { testName: string }, b: { testName: string }) => a.testName.localeCompare(b.testName)
    const streamed = stream.events.filter((e) => e.event === 'result').map((e) => e.data)
    expect([...read.body.results].sort(byName)).toEqual(streamed.sort(byName))
  })

  test('"save": false grades without saving', async () => {
    const before = await get(app, '/api/attempts?limit=100', alice)
    const answer = await grade(alice, { save: false })
    expect(answer.body).toMatchObject({ saved: false, attempt_id: null })
    expect((await get(app, '/api/attempts?limit=100', alice)).body).toEqual(before.body)
  })

  test("another learner's attempt is 404, exactly like one that does not exist; an admin reads it", async () => {
    const { body } = await grade(alice)
    const theirs = await get(app, `/api/attempts/${body.attempt_id}`, bob)
    const unknown = await get(app, '/api/attempts/01938a4e-0000-7000-8000-000000000000', bob)
    expect(theirs.status).toBe(404)
    expect({ ...theirs.body, request_id: 0 }).toEqual({ ...unknown.body, request_id: 0 })
    expect((await get(app, `/api/attempts/${encodeURIComponent("x'; DROP TABLE attempts; --")}`, bob)).status).toBe(404)
    expect((await get(app, `/api/attempts/${body.attempt_id}`, teacher)).body.learner).toBe('alice')
  })

  test('the list is newest first, pages with next/before, and refuses a limit out of range', async () => {
    const ids: string[] = []
    for (let i = 0; i < 3; i++) ids.push((await grade(bob)).body.attempt_id)
    const first = await get(app, '/api/attempts?limit=2&task=calculator-app', bob)
    expect(first.status).toBe(200)
    expect(first.body.attempts.map((a: { id: string }) => a.id)).toEqual([ids[2], ids[1]])
    expect(first.body.attempts[0]).toEqual({
      id: ids[2],
      task: 'calculator-app',
      created_at: expect.any(String),
      score: { passed: 0, graded: 0, total: expect.any(Number), percent: 0 },
      success: true,
      duration_ms: expect.any(Number),
      regrade: false,
    })
    const next = await get(app, `/api/attempts?limit=2&before=${first.body.next}`, bob)
    expect(next.body.attempts.map((a: { id: string }) => a.id)).toEqual([ids[0]])
    expect(next.body.next).toBeNull()
    for (const limit of ['0', '101', 'ten']) {
      const refused = await get(app, `/api/attempts?limit=${limit}`, bob)
      expect(refused.status).toBe(422)
      expect(refused.body.error_type).toBe('validation_error')
    }
    expect((await get(app, `/api/attempts?task=${encodeURIComponent(HOSTILE)}`, bob)).body).toEqual({
      attempts: [],
      next: null,
    })
  })

  test('progress has one entry per task of the folder', async () => {
    const { body } = await get(app, '/api/progress', bob)
    expect(body.learner).toBe('bob')
    expect(body.tasks.map((t: { task: string }) => t.task).sort()).toEqual([
      'calculator-app',
      'tic-tac-toe',
      'todo-list-app',
    ])
    const calculator = body.tasks.find((t: { task: string }) => t.task === 'calculator-app')
    expect(calculator).toMatchObject({ title: expect.any(String), attempts: 3, completed: false })
    expect(body.tasks.find((t: { task: string }) => t.task === 'tic-tac-toe')).toEqual({
      task: 'tic-tac-toe',
      title: expect.any(String),
      attempts: 0,
      best: null,
      last: null,
      completed: false,
    })
  })
})

describe('admin views', () => {
  test('a learner gets 403 forbidden on every admin route', async () => {
    for (const [method, path] of [
      ['GET', '/api/admin/progress'],
      ['GET', '/api/admin/grades.csv'],
      ['POST', '/api/admin/regrade'],
      ['GET', '/api/admin/jobs/x'],
    ]) {
      const reply =
        method === 'GET' ? await get(app, path!, alice) : await post(app, path!, { task: 'calculator-app' }, alice)
      expect([path, reply.status, reply.body.error_type]).toEqual([path, 403, 'forbidden'])
    }
  })

  test('the CSV quotes by RFC 4180 and no cell can start a formula', async () => {
    await grade(bearer('sum-key'))
    await grade(bearer('minus-key'))
    await grade({ authorization: `Bearer ${await tokenFor('a"b,c')}` })
    const reply = await app.handle(
      new Request('http://localhost/api/admin/grades.csv?task=calculator-app', { headers: teacher }),
    )
    expect(reply.headers.get('content-type')).toStartWith('text/csv')
    const lines = (await reply.text()).split('\r\n')
    expect(lines[0]).toBe('learner,task,attempts,best_percent,last_percent,completed,last_attempt_at')
    const row = (learner: string) => lines.find((line) => line.startsWith(learner))
    expect(row("'@sum")).toMatch(/^'@sum,calculator-app,1,0,0,false,\d{4}-.*Z$/)
    expect(row("'-minus")).toMatch(/^'-minus,calculator-app,1,0,0,false,/)
    // The quote is doubled and the comma stays inside the quoted cell.
    expect(row('"jwt:a""b,c"')).toMatch(/^"jwt:a""b,c",calculator-app,1,0,0,false,/)
    expect(lines.some((line) => /^[=+\-@]/.test(line))).toBe(false)
  })

  test('class progress lists every learner per task', async () => {
    const { status, body } = await get(app, '/api/admin/progress?task=calculator-app', teacher)
    expect(status).toBe(200)
    const bobs = body.learners.find((l: { learner: string }) => l.learner === 'bob')
    expect(bobs).toEqual({
      learner: 'bob',
      tasks: [
        {
          task: 'calculator-app',
          attempts: 3,
          best: expect.objectContaining({ percent: 0 }),
          last_at: expect.any(String),
          completed: false,
        },
      ],
    })
  })
})

describe('regrade jobs', () => {
  test('grade the latest attempts again as new attempts, with progress events, leaving old ones alone', async () => {
    const before = await get(app, '/api/attempts?limit=100', bob)
    const started = await post(app, '/api/admin/regrade', { task: 'calculator-app', learner: 'bob' }, teacher)
    expect(started.status).toBe(202)
    const stream = await getEvents(app, `/api/admin/jobs/${started.body.job}`, teacher)
    expect(stream.type).toStartWith('text/event-stream')
    const events = parseEvents(stream.text)
    expect(events.map((e) => e.event)).toEqual(['progress', 'done'])
    expect(events[1]!.data).toMatchObject({ status: 'done', done: 1, total: 1, learner: 'bob' })
    const job = await get(app, `/api/admin/jobs/${started.body.job}`, teacher)
    expect(job.body).toEqual(events[1]!.data)
    const made = await get(app, `/api/attempts/${job.body.attempts[0]}`, bob)
    expect(made.body).toMatchObject({ learner: 'bob', regrade: true, task: 'calculator-app' })
    const after = await get(app, '/api/attempts?limit=100', bob)
    expect(after.body.attempts.slice(1)).toEqual(before.body.attempts)
  })

  test('an unknown task is 404 and an unknown job is 404', async () => {
    expect((await post(app, '/api/admin/regrade', { task: 'no-such-task' }, teacher)).status).toBe(404)
    expect((await get(app, '/api/admin/jobs/nope', teacher)).status).toBe(404)
  })
})

describe('conversations', () => {
  test('listed, read and deleted by their learner only; an admin reads any', async () => {
    const { store } = app.decorator.services
    const made = await store.createConversation('alice', 'calculator-app', HOSTILE)
    await store.appendMessages(made.id, [
      { role: 'user', content: HOSTILE },
      { role: 'assistant', content: 'Which operator fails?', hint_level: 1 },
    ])
    const list = await get(app, '/api/conversations?task=calculator-app', alice)
    expect(list.body).toEqual({
      conversations: [{ ...made, updated_at: expect.any(String), messages: 2 }],
    })
    expect((await get(app, '/api/conversations?task=tic-tac-toe', alice)).body).toEqual({ conversations: [] })
    const read = await get(app, `/api/conversations/${made.id}`, alice)
    expect(read.body.messages.map((m: { content: string }) => m.content)).toEqual([HOSTILE, 'Which operator fails?'])
    expect((await get(app, `/api/conversations/${made.id}`, bob)).status).toBe(404)
    expect((await get(app, '/api/conversations', bob)).body).toEqual({ conversations: [] })
    expect((await get(app, '/api/conversations?learner=alice', bob)).status).toBe(403)
    expect((await get(app, '/api/conversations?learner=alice', teacher)).body.conversations).toHaveLength(1)
    expect((await get(app, `/api/conversations/${made.id}`, teacher)).status).toBe(200)
    expect((await del(app, `/api/conversations/${made.id}`, bob)).status).toBe(404)
    expect(await del(app, `/api/conversations/${made.id}`, alice)).toEqual({ status: 200, body: { success: true } })
    expect((await get(app, `/api/conversations/${made.id}`, alice)).status).toBe(404)
  })
})

describe('health, metrics and the API document', () => {
  test('/health shows the store; /metrics counts saves', async () => {
    const health = await get(app, '/health', teacher)
    expect(health.body.checks.store).toEqual({ ok: true, kind: 'sqlite', reachable: true, schema_version: 4 })
    const metrics = await get(app, '/metrics', teacher)
    expect(metrics.body).toMatch(/tutor_attempt_saves_total\{outcome="saved"\} [1-9]/)
    expect(metrics.body).toContain('tutor_attempt_save_duration_seconds_bucket')
  })

  test('every learner route is in the OpenAPI document', async () => {
    const { body } = await get(app, '/openapi/json', teacher)
    for (const path of [
      '/api/attempts',
      '/api/attempts/{id}',
      '/api/progress',
      '/api/me/data',
      '/api/admin/progress',
      '/api/admin/grades.csv',
      '/api/admin/regrade',
      '/api/admin/jobs/{id}',
      '/api/conversations',
      '/api/conversations/{id}',
    ]) {
      expect(Object.keys(body.paths)).toContain(path)
    }
  })
})

describe('deleting my data', () => {
  test("DELETE /api/me/data without a body removes the caller's attempts and conversations, nobody else's", async () => {
    const { store } = app.decorator.services
    await store.createConversation('bob', null, 'hello')
    const mine = (await get(app, '/api/attempts?limit=100', bob)).body.attempts.length
    const others = (await get(app, '/api/attempts?limit=100', alice)).body.attempts.length
    expect(await del(app, '/api/me/data', bob)).toEqual({
      status: 200,
      body: { success: true, deleted: { attempts: mine, conversations: 1 } },
    })
    expect((await get(app, '/api/attempts', bob)).body).toEqual({ attempts: [], next: null })
    expect((await get(app, '/api/attempts?limit=100', alice)).body.attempts).toHaveLength(others)
  })
})
