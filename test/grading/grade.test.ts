/**
 * POST /api/grade: one call grades a task's endpoint tests (real sandbox), browser tests (a recording browser
 * here; the real one in ./reference.test.ts) and design tests (a screenshot shown to a fake OpenAI-compatible
 * vision server over HTTP), answers per group and a score, and never shows what a private test checks.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { closeServices, createApp } from '../../src/app'
import type { ConfigKey } from '../../src/config'
import { testConfig } from '../support/config'
import { startFakeVision, type FakeReply } from '../support/fake-vision'
import { post, postEvents } from '../support/http'
import { SAMPLE_TASKS } from '../tasks/fixture'
import { PNG, PNG_BYTES } from '../judge/images'
import { diskTests, frontEnd, solution, texts } from './disk'
import type { InteractiveTest } from '../../src/browser'
import { fakeBrowser, hangs, passed, type FakeBrowserOptions } from './fake-browser'

const SLUG = 'tic-tac-toe'
const backend = diskTests(SLUG, 'backend')
const frontend = diskTests(SLUG, 'frontend')
const html = diskTests(SLUG, 'html')
const all = [...backend, ...frontend, ...html]
const isPrivate = (t: { public?: boolean }) => t.public === false
const names = (tests: { name: string }[]) => tests.map((t) => t.name)
const PASS: FakeReply = { content: '{"judgment":"pass","explanation":"The board is a neat 3 by 3 grid."}' }
const count = (total: number, passed: number, skipped = 0, failed = 0, errors = 0) => ({
  total,
  passed,
  failed,
  errors,
  skipped,
})

const apps: ReturnType<typeof createApp>[] = []
const visions: ReturnType<typeof startFakeVision>[] = []
afterAll(async () => {
  for (const vision of visions) vision.stop()
  await Promise.all(apps.map((app) => closeServices(app.decorator.services)))
})

/** An app with the real runner, the given browser and, when `replies` are given, a fake vision server. */
function gradeApp(
  options: { browser?: FakeBrowserOptions; replies?: FakeReply[]; config?: Partial<Record<ConfigKey, string>> } = {},
) {
  const browser = fakeBrowser(options.browser)
  const vision = options.replies ? startFakeVision(options.replies) : undefined
  if (vision) visions.push(vision)
  const judge = vision ? { OPENAI_BASE_URL: vision.url, OPENAI_API_KEY: 'sk-test', JUDGE_MODEL: 'vision-model' } : {}
  const app = createApp({ config: testConfig({ TASKS_DIR: SAMPLE_TASKS, ...judge, ...options.config }), browser })
  apps.push(app)
  return {
    app,
    browser,
    vision,
    grade: (body: unknown, headers?: Record<string, string>) => post(app, '/api/grade', body, headers),
  }
}

const reference = frontEnd(SLUG, 'reference')
const everything = { task: SLUG, include_private: true, backendCode: solution(SLUG), frontendCode: reference }

describe('POST /api/grade', () => {
  test('grades all three groups: a summary per group, overall, and a score', async () => {
    const { grade, browser, vision } = gradeApp({ replies: html.map(() => PASS) })
    const { status, body } = await grade(everything)
    expect(status).toBe(200)
    expect(body.results.map((r: { testName: string; group: string }) => [r.testName, r.group])).toEqual([
      ...backend.map((t) => [t.name, 'backend']),
      ...frontend.map((t) => [t.name, 'frontend']),
      ...html.map((t) => [t.name, 'html']),
    ])
    expect(body).toMatchObject({
      task: 'Tic Tac Toe',
      success: true,
      groups: {
        backend: count(backend.length, backend.length),
        frontend: count(frontend.length, frontend.length),
        html: count(html.length, html.length),
      },
      summary: count(all.length, all.length),
      score: { passed: all.length, graded: all.length, total: all.length, percent: 100 },
    })
    // Every browser test ran once, with the page, the backend and its own steps; one screenshot for the judge of
    // the page as loaded, and one after the steps of the one design test that needs a won game.
    expect(browser.calls.map((c) => c.test.name).sort()).toEqual(names(frontend).sort())
    expect(browser.calls[0]).toMatchObject({ files: reference, backendCode: solution(SLUG) })
    const sent = browser.calls.find((c) => c.test.name === frontend[2]!.name)!
    expect(sent.test.steps as unknown[]).toEqual(frontend[2]!.steps!)
    const withSteps = html.filter((test) => test.steps)
    expect(withSteps.map((test) => test.name)).toEqual(['The winning line stands out'])
    expect(browser.screenshots.map((shot) => shot.steps ?? null)).toEqual(
      expect.arrayContaining([null, withSteps[0]!.steps]),
    )
    expect(browser.screenshots).toHaveLength(2)
    // Each design test went to the vision model with the screenshot and its own requirement.
    expect(vision!.requests).toHaveLength(html.length)
    const asked = vision!.requests.map((r) => JSON.stringify(r.messages))
    for (const test of html)
      expect(asked.some((m) => m.includes(JSON.stringify(test.description).slice(1, -1)))).toBe(true)
    expect(asked.every((m) => m.includes(PNG_BYTES.toString('base64')))).toBe(true)
    const judged = body.results.find((r: { testName: string }) => r.testName === html[0]!.name)
    expect(judged).toMatchObject({
      status: 'pass',
      kind: 'judge',
      message: 'The board is a neat 3 by 3 grid.',
      judge_model: 'vision-model',
    })
  }, 60_000)

  test('private browser and design tests say pass or fail only: no steps, screenshot, explanation or criteria', async () => {
    const failing = {
      status: 'fail' as const,
      message: 'elementText .cell[data-index="8"]: expected "", got "O"',
      steps: [
        {
          index: 0,
          kind: 'elementText',
          status: 'fail' as const,
          message: 'mismatch',
          selector: '#status',
          expected: 'SECRET-EXPECTED',
          actual: 'x',
        },
      ],
      durationMs: 30.123,
      screenshot: 'data:image/png;base64,SECRETSHOT',
    }
    const replies = html.map(() => ({ content: '{"judgment":"fail","explanation":"SECRET-EXPLANATION"}' }))
    const { grade } = gradeApp({ browser: { answer: () => failing }, replies })
    const { body } = await grade(everything)
    const shown = (name: string) => body.results.find((r: { testName: string }) => r.testName === name)
    const open = shown(frontend.find((t) => !isPrivate(t))!.name)
    expect(open).toMatchObject({
      status: 'fail',
      message: failing.message,
      steps: failing.steps,
      screenshot: failing.screenshot,
    })
    for (const test of [...frontend, ...html].filter(isPrivate)) {
      expect(shown(test.name)).toEqual({
        testName: test.name,
        status: 'fail',
        message: 'Hidden test failed',
        expected: null,
        actual: null,
        duration_ms: expect.any(Number),
        private: true,
        group: frontend.includes(test) ? 'frontend' : 'html',
        kind: frontend.includes(test) ? 'frontend_interactive' : 'judge',
      })
    }
    const secrets = [
      'SECRET-EXPECTED',
      'SECRETSHOT',
      'SECRET-EXPLANATION',
      ...[...frontend, ...html].filter(isPrivate).map((t) => t.description ?? JSON.stringify(t.steps)),
    ]
    const privateResults = body.results.filter((r: { private?: boolean }) => r.private)
    expect(secrets.filter((s) => texts(privateResults).some((t) => t.includes(s)))).toEqual([])
    expect(body.groups.frontend).toEqual(count(frontend.length, 0, 0, frontend.length))
    expect(body.score).toEqual({
      passed: backend.length,
      graded: all.length,
      total: all.length,
      percent: Math.round((1000 * backend.length) / all.length) / 10,
    })
  }, 60_000)

  test('what cannot run is skipped with a reason: no backend code, no page, no judge', async () => {
    const { grade, browser } = gradeApp()
    const { status, body } = await grade({ task: 'Tic Tac Toe' })
    expect(status).toBe(200)
    const reasons = Object.fromEntries(
      body.results.map((r: { testName: string; status: string; reason: string }) => [
        r.testName,
        `${r.status}:${r.reason}`,
      ]),
    )
    const publicOnly = all.filter((t) => !isPrivate(t))
    expect(Object.keys(reasons)).toEqual(names(publicOnly))
    for (const t of backend.filter((t) => !isPrivate(t))) expect(reasons[t.name]).toBe('skip:no_backend_code')
    for (const t of frontend.filter((t) => !isPrivate(t))) expect(reasons[t.name]).toBe('skip:no_frontend_code')
    for (const t of html.filter((t) => !isPrivate(t))) expect(reasons[t.name]).toBe('skip:no_frontend_code')
    expect(body.score).toEqual({ passed: 0, graded: 0, total: publicOnly.length, percent: 0 })
    expect(body.success).toBe(true)
    expect(browser.calls).toEqual([])

    // With a page but no provider configured: design tests skip as judge_unavailable, browser tests run.
    const withPage = await grade({
      task: SLUG,
      frontendCode: { html: reference['index.html'], css: reference['style.css'], js: reference['script.js'] },
    })
    const judged = withPage.body.results.filter((r: { kind: string }) => r.kind === 'judge')
    expect(judged.map((r: { status: string; reason: string }) => `${r.status}:${r.reason}`)).toEqual(
      html.filter((t) => !isPrivate(t)).map(() => 'skip:judge_unavailable'),
    )
    expect(browser.calls[0]!.files).toEqual(reference) // { html, css, js } as the original IDE sends it
  }, 60_000)

  test('without a browser on the server, browser and design tests skip as browser_unavailable', async () => {
    const { grade, vision } = gradeApp({ browser: { available: false }, replies: [] })
    const { body } = await grade({ ...everything, backendCode: undefined })
    const statuses = body.results
      .filter((r: { group: string }) => r.group !== 'backend')
      .map((r: { status: string; reason: string; private?: boolean }) => `${r.status}:${r.reason}`)
    expect(new Set(statuses)).toEqual(new Set(['skip:browser_unavailable']))
    expect(vision!.requests).toEqual([])
  }, 60_000)

  test('a screenshot that cannot be taken is an error of each design test; a judge that fails, of that test', async () => {
    const broken = gradeApp({
      browser: { screenshot: { error: 'the page did not load in time', reason: 'timeout' } },
      replies: [],
    })
    const { body } = await broken.grade({ ...everything, backendCode: undefined })
    const design = body.results.filter((r: { kind: string; private?: boolean }) => r.kind === 'judge' && !r.private)
    expect(
      design.map((r: { status: string; reason: string; message: string }) => [r.status, r.reason, r.message]),
    ).toEqual(
      html
        .filter((t) => !isPrivate(t))
        .map(() => ['error', 'timeout', 'The page could not be captured: the page did not load in time']),
    )
    const upstream = gradeApp({ replies: [{ status: 401, message: 'bad key' }] })
    const judged = await upstream.grade({ task: SLUG, frontendCode: reference })
    const first = judged.body.results.find((r: { testName: string }) => r.testName === html[0]!.name)
    expect(first).toMatchObject({
      status: 'error',
      reason: 'upstream_error',
      message: expect.stringContaining('The judge could not decide'),
    })
  }, 60_000)

  test('a design test whose steps cannot bring the page to its state fails, without asking the judge', async () => {
    const { grade, vision } = gradeApp({
      replies: html.map(() => PASS),
      browser: {
        screenshot: ({ steps }) =>
          steps
            ? { error: 'Step 5 failed: click .cell[data-index="2"]: no element', reason: 'steps_failed' }
            : { dataUrl: PNG },
      },
    })
    const { body } = await grade(everything)
    const stepped = body.results.find((r: { testName: string }) => r.testName === 'The winning line stands out')
    // Private: status and a generic message only.
    expect(stepped).toMatchObject({ status: 'fail', kind: 'judge' })
    expect(vision!.requests).toHaveLength(html.length - 1)
    expect(body.groups.html).toEqual(count(html.length, html.length - 1, 0, 1))
  }, 60_000)

  test('design tests count against RATE_JUDGE_PER_MIN: one judge request per grading, then rate_limited', async () => {
    const { grade, vision } = gradeApp({ replies: html.map(() => PASS), config: { RATE_JUDGE_PER_MIN: '1' } })
    const first = await grade({ task: SLUG, frontendCode: reference })
    const second = await grade({ task: SLUG, frontendCode: reference })
    const design = (body: { results: { kind: string; status: string; reason?: string }[] }) =>
      body.results.filter((r) => r.kind === 'judge').map((r) => `${r.status}:${r.reason ?? ''}`)
    const publicDesign = html.filter((t) => !isPrivate(t))
    expect(design(first.body)).toEqual(publicDesign.map(() => 'pass:'))
    expect(design(second.body)).toEqual(publicDesign.map(() => 'skip:rate_limited'))
    expect(vision!.requests).toHaveLength(publicDesign.length)
  }, 60_000)

  test('GRADE_TIMEOUT_MS bounds the whole grading: unfinished tests are timeout errors and the browser is told to stop', async () => {
    const { grade, browser } = gradeApp({ browser: { answer: hangs }, config: { GRADE_TIMEOUT_MS: '1000' } })
    const { status, body } = await grade({ task: SLUG, frontendCode: reference })
    expect(status).toBe(200)
    const browserResults = body.results.filter((r: { kind: string }) => r.kind === 'frontend_interactive')
    expect(
      new Set(browserResults.map((r: { status: string; error_type: string }) => `${r.status}:${r.error_type}`)),
    ).toEqual(new Set(['error:timeout']))
    expect(browserResults[0].message).toContain('GRADE_TIMEOUT_MS')
    expect(browser.calls.every((call) => call.signal?.aborted)).toBe(true)
  }, 60_000)

  test('time spent waiting for a browser slot does not count against GRADE_TIMEOUT_MS: a class grading at once completes', async () => {
    // One slot, held for 6 s by another learner's test before this grading's tests get it: 6 s of waiting against
    // a limit of 5 s of work (the grading's endpoint tests, which count, take well under that even on a busy host).
    const slow = (test: InteractiveTest) =>
      test.name === 'blocker' ? Bun.sleep(6000).then(() => passed(test)) : passed(test)
    const { grade, browser } = gradeApp({ browser: { answer: slow, slots: 1 }, config: { GRADE_TIMEOUT_MS: '5000' } })
    const blocker = browser.runTest({
      test: { name: 'blocker', type: 'frontend_interactive', steps: [] },
      files: { 'index.html': '' },
      client: 'another learner',
    })
    const started = performance.now()
    const { status, body } = await grade({ task: SLUG, include_private: true, frontendCode: reference })
    expect(performance.now() - started).toBeGreaterThan(5000)
    expect(status).toBe(200)
    const browserResults = body.results.filter((r: { kind: string }) => r.kind === 'frontend_interactive')
    expect(browserResults.map((r: { status: string }) => r.status)).toEqual(frontend.map(() => 'pass'))
    expect((await blocker).status).toBe('pass')
  }, 60_000)

  test('streams one result event per test, then the summary without the results', async () => {
    const { app } = gradeApp({ replies: html.map(() => PASS) })
    const { status, headers, events } = await postEvents(app, '/api/grade', everything)
    expect(status).toBe(200)
    expect(headers.get('content-type')).toContain('text/event-stream')
    const results = events.filter((e) => e.event === 'result')
    expect(names(results.map((e) => ({ name: e.data.testName }))).sort()).toEqual(names(all).sort())
    expect(events.at(-1)!.event).toBe('summary')
    expect(events.at(-1)!.data).toMatchObject({ task: 'Tic Tac Toe', success: true, score: { percent: 100 } })
    expect(events.at(-1)!.data.results).toBeUndefined()
    expect(results.filter((e) => e.data.private).length).toBe(all.filter(isPrivate).length)
  }, 60_000)

  test('bounds: unknown task 404, a bad page 400, too large 413, too many tests 413', async () => {
    const { grade } = gradeApp({ config: { MAX_CODE_BYTES: '1000', EXEC_MAX_CASES: '5' } })
    const unknown = await grade({ task: 'no-such-task' })
    expect({ status: unknown.status, type: unknown.body.error_type }).toEqual({ status: 404, type: 'task_not_found' })
    const many = await grade({ task: SLUG })
    expect({ status: many.status, type: many.body.error_type }).toEqual({ status: 413, type: 'too_many_cases' })
    const few = gradeApp({ config: { MAX_CODE_BYTES: '1000' } })
    const bad = await few.grade({ task: SLUG, frontendCode: 'just a string' })
    expect({ status: bad.status, type: bad.body.error_type }).toEqual({ status: 400, type: 'validation_error' })
    const large = await few.grade({ task: SLUG, frontendCode: { 'index.html': 'x'.repeat(2000) } })
    expect({ status: large.status, type: large.body.error_type }).toEqual({ status: 413, type: 'payload_too_large' })
    const missing = await few.grade({})
    expect(missing.status).toBe(422)
  }, 60_000)

  test('is documented in the OpenAPI document with its schemas', async () => {
    const { app } = gradeApp()
    const response = await app.handle(new Request('http://localhost/openapi/json'))
    const doc = (await response.json()) as any
    const route = doc.paths['/api/grade'].post
    expect(route.tags).toEqual(['Grading'])
    expect(JSON.stringify(route.requestBody)).toContain('#/components/schemas/GradeRequest')
    expect(JSON.stringify(route.responses['200'])).toContain('#/components/schemas/GradeResponse')
    expect(Object.keys(doc.components.schemas.GradeRequest.properties)).toEqual([
      'task',
      'backendCode',
      'frontendCode',
      'include_private',
      'save',
    ])
    expect(Object.keys(doc.components.schemas.GradeResponse.properties)).toEqual(
      expect.arrayContaining(['score', 'attempt_id', 'saved']),
    )
  })
})
