import { afterAll, describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createApp, warmUp } from '../../src/app'
import { testConfig } from '../support/config'
import { get, post } from '../support/http'
import { SECRET_TEXT, tasksFixture } from './fixture'

const fixture = tasksFixture()
afterAll(() => fixture.remove())
const app = createApp({ config: testConfig({ TASKS_DIR: fixture.dir }) })
const dataUrl = (type: string, file: string) =>
  `data:${type};base64,${readFileSync(join(fixture.dir, 'good-task', file)).toString('base64')}`
const notFound = (error_type: string, error: string) => ({
  success: false,
  error,
  error_type,
  request_id: expect.any(String),
})

describe('GET /tasks', () => {
  test('lists the tasks that loaded with name, slug and summary', async () => {
    const { status, body } = await get(app, '/tasks')
    expect({ status, body }).toEqual({
      status: 200,
      body: { tasks: [{ name: 'Good Task', slug: 'good-task', summary: 'A fixture task that loads.' }] },
    })
  })
})

describe('GET /tasks/{task_name}', () => {
  test.each(['Good%20Task', 'good-task', 'GOOD%20TASK'])('finds the task by name or slug: %s', async (name) => {
    const { status, body } = await get(app, `/tasks/${name}`)
    expect(status).toBe(200)
    expect(body.task).toMatchObject({ name: 'Good Task', slug: 'good-task', summary: 'A fixture task that loads.' })
    expect(body.files.map((f: { name: string }) => f.name)).toEqual(['index.html', 'backend.py', 'README'])
    expect(body.files[0]).toEqual({
      id: 'index.html',
      name: 'index.html',
      type: 'file',
      content: '<p>starter page</p>\n',
      language: 'html',
    })
  })

  test('inlines relative images as data: URLs and leaves absolute ones alone', async () => {
    const { body } = await get(app, '/tasks/good-task')
    const png = dataUrl('image/png', 'images/dot.png')
    expect(body.task.description).toBe(
      [
        '<h1>Good task</h1>',
        `<img src="${png}" alt="a dot">`,
        `<img alt="same dot again" src='${png}'>`,
        `<img src="${dataUrl('image/svg+xml', 'images/shape.svg')}">`,
        '<img src="https://example.com/remote.png">',
        '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">',
        '',
      ].join('\n'),
    )
  })

  test('returns every test, private ones included, titles prefixed by kind', async () => {
    const { body } = await get(app, '/tasks/good-task')
    expect(body.task.tests.map((t: { title: string; name: string }) => `${t.title} / ${t.name}`)).toEqual([
      'Backend: Doubling / doubles 2',
      'Backend: Doubling / doubles 0',
      'Backend: Doubling / doubles -3 (private)',
      'Backend: More doubling / doubles 10 (private)',
      'End-to-End: Page / shows the text',
      'HTML: Look / looks fine',
      'HTML: Look / looks great (private)',
    ])
  })

  test('never includes the reference solution', async () => {
    const { body } = await get(app, '/tasks/good-task')
    expect(JSON.stringify(body)).not.toContain('return n * 2')
  })

  test('an unknown task is a 404 envelope', async () => {
    const { status, body } = await get(app, '/tasks/No%20Such%20Task')
    expect({ status, body }).toEqual({ status: 404, body: notFound('task_not_found', 'No task named "No Such Task"') })
  })

  test.each([
    '..%2F..%2Fetc%2Fpasswd',
    '%2e%2e%2fgood-task',
    '..%5C..%5Cgood-task',
    '%2Fetc%2Fpasswd',
    'broken',
    'bad-json',
  ])('a traversal attempt or a broken task is just an unknown name: %s', async (name) => {
    const { status, body } = await get(app, `/tasks/${name}`)
    expect(status).toBe(404)
    expect(body.error_type).toMatch(/not_found$/)
    expect(JSON.stringify(body)).not.toContain(fixture.base)
  })
})

describe('POST /api/load-test-cases', () => {
  const load = (tests: unknown[], extra: Record<string, unknown> = {}) =>
    post(app, '/api/load-test-cases', { task: { tests }, ...extra })
  const outline = (body: { testCases: { title: string; tests: { name: string }[] }[] }) =>
    body.testCases.map((group) => [group.title, group.tests.map((t) => t.name)])

  test('reads a test folder and leaves out private tests by default', async () => {
    const { status, body } = await load(['good-task/tests/backend'])
    expect(status).toBe(200)
    expect(body).toEqual({
      testCases: [
        {
          title: 'Backend: Doubling',
          tests: [
            {
              title: 'Backend: Doubling',
              name: 'doubles 2',
              endpoint: '/double',
              input: { n: 2 },
              expected: 4,
              kind: 'endpoint',
              public: true,
            },
            {
              title: 'Backend: Doubling',
              name: 'doubles 0',
              endpoint: '/double',
              input: { n: 0 },
              expected: 0,
              kind: 'endpoint',
              public: true,
            },
          ],
        },
      ],
    })
  })

  test('public_only: false includes private tests', async () => {
    const { body } = await load(['good-task/tests/backend', 'good-task/tests/html'], { public_only: false })
    expect(outline(body)).toEqual([
      ['Backend: Doubling', ['doubles 2', 'doubles 0', 'doubles -3 (private)']],
      ['Backend: More doubling', ['doubles 10 (private)']],
      ['HTML: Look', ['looks fine', 'looks great (private)']],
    ])
  })

  test('mixes inline tests and folders, grouped by title in first-seen order', async () => {
    const { body } = await load([
      { title: 'Mine', name: 'first inline', endpoint: '/x', input: {}, expected: 1 },
      'good-task/tests/frontend',
      { title: 'Backend: Doubling', name: 'inline joins a folder group' },
      'good-task/tests/backend',
      { title: 'Mine', name: 'second inline' },
      { title: 'Mine', name: 'private inline', public: false },
      { name: 'untitled' },
    ])
    expect(outline(body)).toEqual([
      ['Mine', ['first inline', 'second inline']],
      ['End-to-End: Page', ['shows the text']],
      ['Backend: Doubling', ['inline joins a folder group', 'doubles 2', 'doubles 0']],
      ['Tests', ['untitled']],
    ])
    expect(body.testCases[0].tests[0]).toEqual({
      title: 'Mine',
      name: 'first inline',
      endpoint: '/x',
      input: {},
      expected: 1,
      kind: 'endpoint',
      public: true,
    })
  })

  test('accepts paths written from the repository root (tasks/<slug>/...)', async () => {
    const { status, body } = await load(['tasks/good-task/tests/html'])
    expect(status).toBe(200)
    expect(outline(body)).toEqual([['HTML: Look', ['looks fine']]])
  })

  test.each([
    '../outside',
    'good-task/../../outside',
    '/etc',
    `${fixture.dir}/good-task/tests/backend`,
    'good-task\\..\\..\\outside',
    'good-task/linked-outside',
    'linked-task',
    'C:/Windows',
  ])('a path leaving the tasks folder is a 400: %s', async (path) => {
    const { status, body } = await load([path])
    expect({ status, error_type: body.error_type }).toEqual({ status: 400, error_type: 'path_outside_tasks' })
    expect(body.error).not.toContain(`${fixture.base}/`)
  })

  test.each(['good-task/images', 'good-task/tests/nope', '%2e%2e/outside', 'bad-test/tests/backend'])(
    'a path inside that is not a test folder of a loaded task is a 400: %s',
    async (path) => {
      const { status, body } = await load([path])
      expect({ status, error_type: body.error_type }).toEqual({ status: 400, error_type: 'test_folder_not_found' })
    },
  )

  test('a body of the wrong shape is a 422 validation error', async () => {
    const { status, body } = await post(app, '/api/load-test-cases', { task: { tests: [42] } })
    expect({ status, error_type: body.error_type }).toEqual({ status: 422, error_type: 'validation_error' })
  })
})

describe('GET /assets/{path}', () => {
  test.each([
    ['good-task/images/dot.png', 'image/png'],
    ['good-task/images/shape.svg', 'image/svg+xml'],
    ['good-task/starter/style.css', 'text/css; charset=utf-8'],
    ['good-task/instructions.html', 'text/html; charset=utf-8'],
    ['good-task/starter/notes.txt', 'text/plain; charset=utf-8'],
  ])('serves %s as %s', async (path, type) => {
    const response = await app.handle(new Request(`http://localhost/assets/${path}`))
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe(type)
    expect(response.headers.get('x-content-type-options')).toBe('nosniff')
    expect(Buffer.from(await response.arrayBuffer())).toEqual(readFileSync(join(fixture.dir, path)))
  })

  test('percent-encoded names are decoded', async () => {
    const response = await app.handle(new Request('http://localhost/assets/good-task/images/%64ot.png'))
    expect(response.status).toBe(200)
  })

  const refused = [
    ['a reference solution', 'good-task/solution.py'],
    ['task.json', 'good-task/task.json'],
    ['a test file (private tests)', 'good-task/tests/backend/01-double.json'],
    ['a dot-file', 'good-task/.env'],
    ['a symlink out of the folder', 'good-task/images/escape.png'],
    ['a folder symlinked outside', 'good-task/linked-outside/secret.png'],
    ['a task symlinked outside', 'linked-task/secret.png'],
    ['a symlink named like an image that points at the solution', 'good-task/images/solution.png'],
    ['encoded ..', '..%2Foutside%2Fsecret.png'],
    ['double-encoded ..', '%252e%252e%252Foutside%252Fsecret.png'],
    ['encoded backslashes', 'good-task%5C..%5C..%5Coutside%5Csecret.png'],
    ['an absolute path', `%2F${encodeURIComponent(fixture.secret.slice(1))}`],
    ['an absolute path with a double slash', `/${fixture.secret.slice(1)}`],
    ['a malformed escape', 'good-task/images/%E0%A4%A.png'],
    ['a folder', 'good-task/images'],
    ['a missing file', 'good-task/images/nope.png'],
  ]
  test.each(refused)('refuses %s with the same 404', async (_, path) => {
    const { status, body } = await get(app, `/assets/${path}`)
    expect({ status, body }).toEqual({ status: 404, body: notFound('not_found', 'No such asset') })
  })

  test('dot-segments normalised away by the URL parser never reach outside either', async () => {
    for (const path of [
      '../outside/secret.png',
      '%2e%2e/%2e%2e/outside/secret.png',
      'good-task/../../outside/secret.css',
    ]) {
      const response = await app.handle(new Request(`http://localhost/assets/${path}`))
      expect(response.status).toBe(404)
      expect(await response.text()).not.toContain(SECRET_TEXT)
    }
  })

  test('an existing file outside answers exactly like a missing one', async () => {
    const existing = await get(app, '/assets/..%2Foutside%2Fsecret.png')
    const missing = await get(app, '/assets/..%2Foutside%2Fnope.png')
    const strip = (r: typeof existing) => ({ status: r.status, body: { ...r.body, request_id: '' } })
    expect(strip(existing)).toEqual(strip(missing))
  })
})

describe('health', () => {
  test('reports loaded tasks and broken ones by folder name', async () => {
    const { body } = await get(app, '/health')
    expect(body.checks.tasks).toEqual({
      ok: false,
      dir: fixture.dir,
      loaded: 1,
      names: ['Good Task'],
      broken: {
        'bad-json': expect.any(String),
        'bad-schema': expect.any(String),
        'bad-test': expect.any(String),
        'escaping-path': expect.any(String),
        'linked-task': expect.any(String),
        'missing-image': expect.any(String),
        'same-name': expect.any(String),
        'symlinked-description': expect.any(String),
      },
      watching: false,
    })
  })

  test('a missing tasks folder degrades health instead of stopping the server', async () => {
    const missing = createApp({ config: testConfig({ TASKS_DIR: join(fixture.base, 'nope') }) })
    await warmUp(missing.decorator.services)
    expect((await get(missing, '/health')).body.checks.tasks).toMatchObject({
      ok: false,
      loaded: 0,
      problem: expect.any(String),
    })
    expect((await get(missing, '/tasks')).body).toEqual({ tasks: [] })
  })
})
