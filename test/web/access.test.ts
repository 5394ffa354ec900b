/**
 * The playground on a server with access keys, in Chromium: the page asks for a key, keeps working with it
 * (requests and the tutor's socket), lists the learner's attempts in History, and shows an admin the Class view
 * with a CSV that parses. A rate limit says when to try again.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { ROOT } from '../support/process'
import { answer, startFakeOpenAI } from '../support/fake-openai'
import { keysFile } from '../support/keys'
import { browser, openPlayground, playground, SCREENSHOTS, seriousViolations, skipReason } from './helpers'

const SOLUTION = readFileSync(join(ROOT, 'tasks/tic-tac-toe/solution.py'), 'utf8')
const fake = startFakeOpenAI(() => answer('Think about the rows first.'))
afterAll(() => fake.stop())
const keys = keysFile([
  { name: 'ada', key: 'learner-key-ada-0123456789', role: 'learner' },
  { name: 'teacher', key: 'admin-key-teacher-0123456789', role: 'admin' },
])
const served = playground({
  real: ['runner'],
  config: { API_KEYS_FILE: keys, OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: fake.url },
})
const limited = playground({ real: ['runner'], config: { RATE_EXECUTION_PER_MIN: '1' } })
// A server whose CORS_ORIGINS leaves out the page's own origin: the guard refuses the page's state changes too.
const elsewhere = playground({ real: ['runner'], config: { CORS_ORIGINS: 'http://tutor.example' } })
const chromium = browser()

/** Parses RFC 4180 CSV (quoted fields, doubled quotes, CRLF or LF line ends). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let field = ''
  let quoted = false
  const endField = () => {
    row.push(field)
    field = ''
  }
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (quoted && c === '"' && text[i + 1] === '"') {
      field += '"'
      i++
    } else if (c === '"') {
      quoted = !quoted
    } else if (quoted || (c !== ',' && c !== '\n' && c !== '\r')) {
      field += c
    } else if (c === ',') {
      endField()
    } else {
      if (c === '\r' && text[i + 1] === '\n') i++
      endField()
      rows.push(row)
      row = []
    }
  }
  if (field || row.length) {
    endField()
    rows.push(row)
  }
  return rows
}

describe.skipIf(skipReason !== null)('with access keys', () => {
  let page: Page
  afterAll(async () => {
    await page?.context().close()
  })
  const keyBox = () => page.getByRole('textbox', { name: 'Access key', exact: true })
  const signIn = async (key: string) => {
    await keyBox().fill(key)
    await page.getByRole('button', { name: 'Sign in', exact: true }).click()
  }

  test('the page asks for a key, refuses a wrong one and works with a right one', async () => {
    ;({ page } = await openPlayground(await chromium(), served.url))
    await keyBox().waitFor()
    expect(await seriousViolations(page)).toEqual([])
    await signIn('not-a-key')
    await page.getByText('That access key was not accepted. Enter a valid one.').waitFor()
    await signIn('learner-key-ada-0123456789')
    await keyBox().waitFor({ state: 'hidden' })
    await page.getByRole('combobox', { name: 'Task', exact: true }).selectOption({ label: 'Tic Tac Toe' })
    await page
      .getByRole('textbox', { name: 'Backend code', exact: true })
      .filter({ hasText: 'def check_winner' })
      .waitFor()
    // A learner is not shown the class.
    expect(await page.getByRole('button', { name: 'Class', exact: true }).count()).toBe(0)
  }, 30_000)

  test("the tutor's socket carries the key", async () => {
    await page.getByRole('textbox', { name: 'Message', exact: true }).fill('Any tip?')
    await page.getByRole('button', { name: 'Send', exact: true }).click()
    await page.getByRole('log').getByText('Think about the rows first.').waitFor()
  }, 30_000)

  test('History lists the graded attempt; opening it shows its results and files', async () => {
    await page.getByRole('textbox', { name: 'Backend code', exact: true }).fill(SOLUTION)
    await page.getByRole('button', { name: 'Grade', exact: true }).click()
    await page.getByRole('list', { name: 'Score per group', exact: true }).waitFor({ timeout: 60_000 })
    await page.getByRole('button', { name: 'History', exact: true }).click()
    const attempts = page.getByRole('region', { name: 'Attempts at this task', exact: true })
    const attempt = attempts.getByRole('button', { name: /: \d+(\.\d)?%$/ })
    await attempt.waitFor()
    expect(await attempt.count()).toBe(1)
    const progress = page.getByRole('table', { name: 'Progress of ada', exact: true })
    await progress.getByRole('row', { name: /Tic Tac Toe 1/ }).waitFor()
    await attempt.click()
    await page
      .getByRole('list', { name: 'Results of this attempt', exact: true })
      .getByText('Empty board has no winner')
      .waitFor()
    const history = page.getByRole('region', { name: 'History', exact: true })
    await history.getByText('Reference solution of the Tic Tac Toe backend', { exact: false }).waitFor()
    expect(await seriousViolations(page)).toEqual([])
    await page.screenshot({ path: join(SCREENSHOTS, 'history.png') })
  }, 90_000)

  test('an admin sees Class and downloads the grades as a CSV that parses', async () => {
    await page.context().close()
    ;({ page } = await openPlayground(await chromium(), served.url, { acceptDownloads: true }))
    await signIn('admin-key-teacher-0123456789')
    const classButton = page.getByRole('button', { name: 'Class', exact: true })
    await classButton.click()
    const table = page.getByRole('table')
    await table.getByRole('cell', { name: 'ada', exact: true }).first().waitFor()
    expect(await seriousViolations(page)).toEqual([])
    await page.screenshot({ path: join(SCREENSHOTS, 'class.png') })
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download CSV', exact: true }).click(),
    ])
    const rows = parseCsv(readFileSync((await download.path())!, 'utf8'))
    expect(rows[0]).toEqual([
      'learner',
      'task',
      'attempts',
      'best_percent',
      'last_percent',
      'completed',
      'last_attempt_at',
    ])
    expect(rows.find((row) => row[0] === 'ada' && row[1] === 'tic-tac-toe')?.[2]).toBe('1')
  }, 30_000)

  test('over the rate limit the page says when to try again', async () => {
    await page.context().close()
    ;({ page } = await openPlayground(await chromium(), limited.url))
    await page.getByRole('combobox', { name: 'Task', exact: true }).selectOption({ label: 'Tic Tac Toe' })
    // Opening the task lists its endpoints: that was this minute's one execution request.
    await page
      .getByRole('combobox', { name: 'Endpoint', exact: true })
      .getByRole('option', { name: '/check_winner' })
      .waitFor({ state: 'attached' })
    await page.getByRole('button', { name: 'Run', exact: true }).click()
    await page
      .getByRole('status')
      .getByText(/^Too many requests\. Try again in \d+ s\.$/)
      .waitFor()
  }, 30_000)

  test("the page's own requests keep to the server's origin rules", async () => {
    await page.context().close()
    ;({ page } = await openPlayground(await chromium(), elsewhere.url))
    // Reading is allowed from anywhere; running code is a state change, refused from an origin not listed.
    await page.getByRole('combobox', { name: 'Task', exact: true }).selectOption({ label: 'Tic Tac Toe' })
    await page.getByRole('button', { name: 'Run', exact: true }).click()
    await page
      .getByRole('alert')
      .getByText('Requests that change state are not accepted from this origin; see CORS_ORIGINS')
      .waitFor()
  }, 30_000)
})
