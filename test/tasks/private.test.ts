/**
 * Hidden tests stay hidden: the task routes name private tests but never hand out what they check. Checked
 * against the task files on disk, not against what the loader made of them.
 */
import { describe, expect, test } from 'bun:test'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createApp } from '../../src/app'
import { testConfig } from '../support/config'
import { get, post } from '../support/http'
import { fakeService } from '../support/services'
import { SAMPLE_TASKS } from './fixture'

const inert = Object.fromEntries(['runner', 'servers', 'providers'].map((name) => [name, fakeService({})]))
const app = createApp({ config: testConfig({ TASKS_DIR: SAMPLE_TASKS }), ...(inert as any) })

interface DiskTest {
  name: string
  public?: boolean
  [field: string]: unknown
}

/** Every test in tasks/<slug>/tests/<kind>/*.json, as written. */
function testsOnDisk(slug: string): DiskTest[] {
  const root = join(SAMPLE_TASKS, slug, 'tests')
  const sorted = (dir: string) => readdirSync(dir).sort()
  return ['backend', 'frontend', 'html'].flatMap((kind) =>
    sorted(join(root, kind)).flatMap(
      (file) => JSON.parse(readFileSync(join(root, kind, file), 'utf8')).tests as DiskTest[],
    ),
  )
}

/**
 * What a private test checks, as compact JSON: its input, expected value, steps and description. Values that a
 * public test shows too, and tiny ones that would match by chance (`{}`, `null`), prove nothing and are left out.
 */
function secretsOf(tests: DiskTest[]): string[] {
  const shown = JSON.stringify(tests.filter((test) => test.public !== false))
  const secrets = tests
    .filter((test) => test.public === false)
    .flatMap((test) =>
      ['input', 'expected', 'steps', 'description']
        .filter((key) => key in test)
        .map((key) => JSON.stringify(test[key])),
    )
  return [...new Set(secrets)].filter((secret) => secret.length >= 8 && !shown.includes(secret))
}

const tic = testsOnDisk('tic-tac-toe')
const privateNames = tic.filter((test) => test.public === false).map((test) => test.name)

/** The keys a private test may show. */
const ALLOWED = new Set(['title', 'name', 'kind', 'public', 'endpoint', 'type'])

describe('private tests reach clients by name and kind only', () => {
  test('the sample task has private tests of every kind worth hiding', () => {
    expect(privateNames.length).toBeGreaterThanOrEqual(20)
    expect(secretsOf(tic).length).toBeGreaterThanOrEqual(20)
  })

  test('GET /tasks/tic-tac-toe lists every test, private ones without input, expected, steps or description', async () => {
    const { status, body } = await get(app, '/tasks/tic-tac-toe')
    expect(status).toBe(200)
    expect(body.task.tests.map((t: DiskTest) => t.name)).toEqual(tic.map((t) => t.name))
    const text = JSON.stringify(body)
    expect(secretsOf(tic).filter((secret) => text.includes(secret))).toEqual([])
    const hidden = body.task.tests.filter((t: DiskTest) => !t.public)
    expect(hidden.map((t: DiskTest) => t.name)).toEqual(privateNames)
    for (const test of hidden) expect(Object.keys(test).filter((key) => !ALLOWED.has(key))).toEqual([])
    expect(hidden.find((t: DiskTest) => t.name === 'Winning beats blocking')).toEqual({
      title: 'Backend: Computer opponent',
      name: 'Winning beats blocking',
      kind: 'endpoint',
      endpoint: '/ai_move',
      public: false,
    })
    expect(hidden.find((t: DiskTest) => t.name === 'The page announces a draw')).toMatchObject({
      kind: 'frontend_interactive',
      type: 'frontend_interactive',
    })
    expect(hidden.find((t: DiskTest) => t.name === 'The winning line stands out')).toEqual({
      title: 'HTML: Look and layout',
      name: 'The winning line stands out',
      kind: 'judge',
      public: false,
    })
  })

  test('public tests keep everything they check', async () => {
    const { body } = await get(app, '/tasks/tic-tac-toe')
    const publicOnDisk = tic.filter((test) => test.public !== false)
    for (const test of publicOnDisk)
      expect(body.task.tests.find((t: DiskTest) => t.name === test.name)).toMatchObject(test)
  })

  test('load-test-cases with public_only: false names private tests, never what they check', async () => {
    const folders = ['backend', 'frontend', 'html'].map((kind) => `tic-tac-toe/tests/${kind}`)
    const { status, body } = await post(app, '/api/load-test-cases', { task: { tests: folders }, public_only: false })
    expect(status).toBe(200)
    const tests = body.testCases.flatMap((group: { tests: DiskTest[] }) => group.tests)
    expect(tests.map((t: DiskTest) => t.name).sort()).toEqual(tic.map((t) => t.name).sort())
    const text = JSON.stringify(body)
    expect(secretsOf(tic).filter((secret) => text.includes(secret))).toEqual([])
    for (const test of tests.filter((t: DiskTest) => !t.public)) {
      expect(Object.keys(test).filter((key) => !ALLOWED.has(key))).toEqual([])
    }
  })

  test.each(['todo-list-app', 'calculator-app'])('%s: no route hands out a private test', async (slug) => {
    const secrets = secretsOf(testsOnDisk(slug))
    const detail = await get(app, `/tasks/${slug}`)
    const folders = ['backend', 'frontend', 'html'].map((kind) => `${slug}/tests/${kind}`)
    const loaded = await post(app, '/api/load-test-cases', { task: { tests: folders }, public_only: false })
    for (const text of [JSON.stringify(detail.body), JSON.stringify(loaded.body)]) {
      expect(secrets.filter((secret) => text.includes(secret))).toEqual([])
    }
  })
})
