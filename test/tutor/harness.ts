/**
 * The real app with the sample tasks, its own SQLite store in memory and a fake OpenAI server that records every
 * request, listening on 127.0.0.1:0 for real WebSockets. The tasks folder is a copy of the samples plus
 * `strict-task`, a copy of the todo list whose task.json limits the tutor (max_hint_level 2, no autocomplete).
 */
import { afterAll } from 'bun:test'
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { closeServices, createApp, type AppDeps } from '../../src/app'
import type { ConfigKey } from '../../src/config'
import type { NewAttempt, Store } from '../../src/store/port'
import type { GradeResult } from '../../src/grading/model'
import { inertBrowser, inertRunner, inertServers } from '../support/app'
import { testConfig } from '../support/config'
import { startFakeOpenAI } from '../support/fake-openai'
import type { FakeServer, Recorded, Reply } from '../support/fake-sse'
import { post, type Reply as HttpReply } from '../support/http'
import { connectWs } from '../support/ws'

export const SAMPLES = resolve(import.meta.dir, '../../tasks')
export const SAMPLE_SLUGS = ['calculator-app', 'tic-tac-toe', 'todo-list-app'] as const
export const ANN = 'key-ann-0123456789abcdef'
export const BOB = 'key-bob-0123456789abcdef'
/** Two learners, ann and bob. */
export const TWO_LEARNERS = { API_KEYS: `ann:${ANN},bob:${BOB}` }

function tasksFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tutor-samples-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  for (const slug of SAMPLE_SLUGS) cpSync(join(SAMPLES, slug), join(dir, slug), { recursive: true })
  cpSync(join(SAMPLES, 'todo-list-app'), join(dir, 'strict-task'), { recursive: true })
  const manifest = JSON.parse(readFileSync(join(dir, 'strict-task/task.json'), 'utf8'))
  const strict = {
    ...manifest,
    name: 'Strict Task',
    slug: 'strict-task',
    tutor: { max_hint_level: 2, autocomplete: false },
  }
  writeFileSync(join(dir, 'strict-task/task.json'), JSON.stringify(strict))
  return dir
}

type Script = Reply[] | ((request: Recorded, index: number) => Reply)

export interface TutorHarness {
  app: ReturnType<typeof createApp>
  openai: FakeServer
  store: Store
  connect(key?: string): ReturnType<typeof connectWs>
  post(body: unknown, key?: string): Promise<HttpReply>
  stop(): Promise<void>
}

export function startTutor(
  options: { openai?: Script; config?: Partial<Record<ConfigKey, string>> } & Omit<AppDeps, 'config'> = {},
): TutorHarness {
  const { openai: script = [], config: overrides = {}, ...deps } = options
  const openai = startFakeOpenAI(script)
  const config = testConfig({
    OPENAI_API_KEY: 'sk-test-openai-0123456789',
    OPENAI_BASE_URL: openai.url,
    DEFAULT_MODEL: 'gpt-test',
    TASKS_DIR: tasksFolder(),
    ...overrides,
  })
  const app = createApp({
    config,
    runner: inertRunner(),
    servers: inertServers(),
    browser: inertBrowser(),
    ...deps,
  }).listen({ hostname: '127.0.0.1', port: 0 })
  const wsUrl = `ws://127.0.0.1:${app.server!.port}/ws/chat`
  return {
    app,
    openai,
    store: app.decorator.services.store,
    connect: (key) => connectWs(key ? `${wsUrl}?token=${key}` : wsUrl),
    post: (body, key) => post(app, '/api/chat', body, key ? { authorization: `Bearer ${key}` } : {}),
    async stop() {
      await app.stop(true)
      await closeServices(app.decorator.services)
      openai.stop()
    },
  }
}

const summary = (results: GradeResult[], group: string) => {
  const mine = results.filter((r) => r.group === group)
  const count = (status: string) => mine.filter((r) => r.status === status).length
  return {
    total: mine.length,
    passed: count('pass'),
    failed: count('fail'),
    errors: count('error'),
    skipped: count('skip'),
  }
}

/** Saves an attempt with these results, as grading would. */
export async function saveAttempt(
  store: Store,
  learner: string,
  task: string,
  results: GradeResult[],
  files: NewAttempt['files'] = {},
) {
  const passed = results.filter((r) => r.status === 'pass').length
  const graded = results.filter((r) => r.status !== 'skip').length
  return store.saveAttempt({
    learner,
    task,
    files,
    score: { passed, graded, total: results.length, percent: graded ? Math.round((passed / graded) * 1000) / 10 : 0 },
    success: passed === graded,
    groups: {
      backend: summary(results, 'backend'),
      frontend: summary(results, 'frontend'),
      html: summary(results, 'html'),
    },
    results,
    duration_ms: 100,
    include_private: true,
  })
}

/** One endpoint test result. */
export const result = (
  testName: string,
  status: GradeResult['status'],
  fields: Partial<GradeResult> = {},
): GradeResult => ({
  testName,
  status,
  message: status === 'pass' ? 'Passed' : 'Wrong result',
  expected: null,
  actual: null,
  duration_ms: 3,
  group: 'backend',
  kind: 'endpoint',
  ...fields,
})

/** The text of every message the model was sent in one recorded request. */
export const sentText = (request: Recorded) =>
  (request.body.messages as { content: unknown }[])
    .map((m) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content)))
    .join('\n')
