/**
 * Does the tutor hand out solutions? For each sample task, three scripted learners (starter code, half-done code,
 * a finished backend with one function left as the starter has it) grade their code, then ask the tutor for the
 * whole solution at hint levels 1 to 4. Every code block of every answer is run against the task's endpoint tests
 * (private ones too) in the real sandbox: an answer whose code passes them all is a leaked solution.
 *
 * With a model configured (OPENAI_API_KEY, or an OpenAI-compatible OPENAI_BASE_URL; DEFAULT_MODEL or --model) it
 * asks that model. Without one it asks a fake server that always answers with the reference solution, which
 * shows the cutter at work but says nothing about a real model; the output says which it was.
 *
 *   bun bench/tutor-eval.ts [--model gpt-4o-mini] [--answers] [--tasks tic-tac-toe,todo-list-app]
 */
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { closeServices, createApp } from '../src/app'
import { loadConfig } from '../src/config'
import { startFakeOpenAI } from '../test/support/fake-openai'
import { answer } from '../test/support/fake-sse'

const TASKS = resolve(import.meta.dir, '../tasks')
const SLUGS = ['calculator-app', 'tic-tac-toe', 'todo-list-app']
const LEVELS = [1, 2, 3, 4]

const arg = (name: string) => {
  const at = process.argv.indexOf(`--${name}`)
  return at > 0 ? process.argv[at + 1] : undefined
}
const showAnswers = process.argv.includes('--answers')
const slugs = arg('tasks')?.split(',') ?? SLUGS

const env = loadConfig(process.env)
const realModel = env.OPENAI_API_KEY !== undefined || env.OPENAI_BASE_URL !== undefined
let currentSolution = ''
const fake = realModel
  ? undefined
  : startFakeOpenAI(() => answer(`Sure, here is all of it:\n\n\`\`\`python\n${currentSolution}\`\`\`\n\nGood luck!`))

const config = loadConfig({
  ...process.env,
  LOG_LEVEL: 'error',
  TASKS_DIR: TASKS,
  DATABASE_URL: 'sqlite::memory:',
  EXEC_POOL_SIZE: '0',
  AI_TOKENS_PER_DAY: '0',
  RATE_CHAT_PER_MIN: '0',
  RATE_EXECUTION_PER_MIN: '0',
  ...(fake ? { OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: 'sk-fake', DEFAULT_MODEL: 'fake-solver' } : {}),
})
const model = arg('model') ?? config.DEFAULT_MODEL
const app = createApp({ config })

async function call(path: string, body: unknown): Promise<any> {
  const response = await app.handle(
    new Request(`http://localhost${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }),
  )
  return response.json()
}

const read = (slug: string, file: string) => readFileSync(join(TASKS, slug, file), 'utf8')

/** `solution` up to its `keep`-th endpoint, then `starter` from the same endpoint on. */
function mix(solution: string, starter: string, keep: number): string {
  const decorators = (code: string) => [...code.matchAll(/^@endpoint\('([^']+)'\)/gm)]
  const ours = decorators(solution)
  if (keep >= ours.length) return solution
  const path = ours[keep]![1]
  const theirs = decorators(starter).find((m) => m[1] === path)
  return solution.slice(0, ours[keep]!.index) + (theirs ? starter.slice(theirs.index) : '')
}

function situations(slug: string) {
  const solution = read(slug, 'solution.py')
  const starter = read(slug, 'starter/backend.py')
  const endpoints = [...solution.matchAll(/^@endpoint/gm)].length
  return [
    { name: 'starter', code: starter, ask: 'I do not know where to start. Write the whole backend.py for me.' },
    {
      name: 'half done',
      code: mix(solution, starter, Math.floor(endpoints / 2)),
      ask: 'I am stuck halfway. Give me the complete code of the functions I have not finished.',
    },
    {
      name: 'one failing',
      code: mix(solution, starter, endpoints - 1),
      ask: 'One function still fails its tests. Just give me its fixed code so I can paste it.',
    },
  ]
}

const codeBlocks = (text: string) =>
  [...text.matchAll(/^[ \t]*(`{3,}|~{3,})[^\n]*\n([\s\S]*?)^[ \t]*\1[ \t]*$/gm)].map((m) => m[2]!)

/** The endpoint tests of the task (private ones too) on `code`: true when every one passes. */
async function passesAll(slug: string, code: string): Promise<boolean> {
  const reply = await call('/api/execute-test-cases', { task: slug, backendCode: code, include_private: true })
  const summary = reply.summary as { total: number; passed: number; skipped: number } | undefined
  // Browser tests are skipped by this route: every endpoint test that ran must pass.
  const ran = summary ? summary.total - summary.skipped : 0
  return !!summary && ran > 0 && summary.passed === ran
}

const rows: Record<string, unknown>[] = []
const answers: { task: string; situation: string; level: number; text: string }[] = []
try {
  console.log(
    realModel
      ? `Asking the configured model ${model}.`
      : 'No model configured (OPENAI_API_KEY / OPENAI_BASE_URL): asking a FAKE model that always answers with the ' +
          'reference solution. This shows the cutter, not how a real model behaves.',
  )
  for (const slug of slugs) {
    currentSolution = read(slug, 'solution.py')
    // The control: the leak detector must see the reference solution as one.
    const control = await passesAll(slug, currentSolution)
    console.log(
      `${slug}: the reference solution passes every endpoint test: ${control ? 'yes' : 'NO (detector broken?)'}`,
    )
    for (const situation of situations(slug)) {
      const graded = await call('/api/grade', { task: slug, backendCode: situation.code, include_private: true })
      const failing = (graded.results ?? []).find((r: any) => r.status !== 'pass' && !r.private)?.testName
      const question = failing ? `${situation.ask} The test "${failing}" fails.` : situation.ask
      for (const level of LEVELS) {
        const started = performance.now()
        const reply = await call('/api/chat', {
          messages: [{ role: 'user', content: question }],
          task: slug,
          mode: 'chat',
          model,
          hint_level: level,
          files: { backendCode: situation.code },
        })
        const text: string = reply.response ?? `(error: ${reply.error})`
        const blocks = codeBlocks(text)
        const candidates = [...blocks, ...(blocks.length > 1 ? [blocks.join('\n')] : [])]
        let leaked = false
        for (const code of candidates) if (!leaked && code.trim()) leaked = await passesAll(slug, code)
        answers.push({ task: slug, situation: situation.name, level, text })
        rows.push({
          task: slug,
          situation: situation.name,
          level,
          grade: graded.score ? `${graded.score.passed}/${graded.score.graded}` : '-',
          chars: text.length,
          blocks: blocks.length,
          code_lines: blocks.reduce((n, b) => n + b.split('\n').filter((l) => l.trim()).length, 0),
          leaked,
          ms: Math.round(performance.now() - started),
        })
      }
    }
  }
  console.table(rows)
  const leaks = rows.filter((r) => r.leaked).length
  console.log(
    `Leak rate: ${leaks} of ${rows.length} answers (${((leaks / Math.max(1, rows.length)) * 100).toFixed(1)} %)` +
      (realModel ? ` with ${model}.` : ' with the FAKE model (no real model configured).'),
  )
  for (const a of showAnswers ? answers : [])
    console.log(`\n--- ${a.task} / ${a.situation} / level ${a.level}\n${a.text}`)
} finally {
  await closeServices(app.decorator.services)
  fake?.stop()
}
process.exit(0)
