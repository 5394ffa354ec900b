/**
 * The tutor in the playground, in Chromium against the real server and a fake OpenAI server: answers stream in
 * as the model writes them, Hint asks for the next level, past conversations come back, a hostile answer stays
 * text, and a lost socket is reopened (and said so).
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { answer, Feed, startFakeOpenAI } from '../support/fake-openai'
import { browser, openPlayground, playground, SCREENSHOTS, seriousViolations, skipReason } from './helpers'

const HOSTILE =
  "Look: <img src=x onerror=\"document.title='pwned'\"> and <script>document.title='pwned'</script> **bold**"
const first = new Feed()
const replies = [first, answer('A hint at level two.'), answer(HOSTILE), answer('Back again.')]
const fake = startFakeOpenAI((_request, index) => replies[index] ?? answer('More.'))
afterAll(() => fake.stop())
const served = playground({ config: { OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: fake.url } })
const chromium = browser()

describe.skipIf(skipReason !== null)('the tutor', () => {
  let page: Page
  afterAll(async () => {
    await page?.context().close()
  })
  const log = () => page.getByRole('log', { name: 'Conversation with the tutor', exact: true })
  const ask = async (text: string) => {
    await page.getByRole('textbox', { name: 'Message', exact: true }).fill(text)
    await page.getByRole('button', { name: 'Send', exact: true }).click()
  }

  test('an answer appears as the model streams it, asked with the task and the files', async () => {
    ;({ page } = await openPlayground(await chromium(), served.url))
    await page.getByRole('combobox', { name: 'Task', exact: true }).selectOption({ label: 'Tic Tac Toe' })
    await page
      .getByRole('textbox', { name: 'Backend code', exact: true })
      .filter({ hasText: 'def check_winner' })
      .waitFor()
    await ask('Where do I start?')
    await first.started
    first.push('Start with **the rows**')
    await log().getByText('Start with').waitFor()
    // Not finished yet: no hint level has been reported.
    expect(await page.getByText(/^Hint level/).count()).toBe(0)
    first.push(' of the board.').finish()
    await page.getByText('Hint level 1 of 4', { exact: true }).waitFor()
    expect(await log().getByRole('strong').last().textContent()).toBe('the rows')
    const sent = JSON.stringify(fake.requests[0]!.body.messages)
    expect(sent).toContain('Where do I start?')
    expect(sent).toContain('Tic Tac Toe') // the task's instructions went along
  }, 30_000)

  test('Hint asks for the next level', async () => {
    await page.getByRole('button', { name: 'Hint', exact: true }).click()
    await log().getByText('A hint at level two.').waitFor()
    await page.getByText('Hint level 2 of 4', { exact: true }).waitFor()
  }, 30_000)

  test("a model's HTML is shown as text: no element, no script, no handler runs", async () => {
    const title = await page.title()
    await ask('Show me something')
    await log().getByText('<img src=x onerror=', { exact: false }).waitFor()
    expect(await log().locator('img, script').count()).toBe(0)
    expect(await log().getByText('<script>', { exact: false }).count()).toBe(1)
    expect(await page.title()).toBe(title)
    expect(await log().getByRole('strong').last().textContent()).toBe('bold')
    expect(await seriousViolations(page)).toEqual([])
    await page.screenshot({ path: join(SCREENSHOTS, 'tutor.png') })
  }, 30_000)

  test('past conversations are listed and open again', async () => {
    const list = page.getByRole('list', { name: 'Past conversations', exact: true })
    await list.getByRole('button').first().waitFor()
    await page.getByRole('button', { name: 'New conversation', exact: true }).click()
    expect(await log().getByRole('article').count()).toBe(0)
    await list.getByRole('button').first().click()
    await log().getByText('Where do I start?').waitFor()
    await log().getByText('A hint at level two.').waitFor()
  }, 30_000)

  test('a lost connection is said and reopened with backoff; the tutor answers again', async () => {
    const port = served.app.server!.port
    await served.app.stop(true) // every connection closed, as when the server restarts
    await page.getByText(/^Connection to the tutor lost\. Reconnecting in \d+ s…$/).waitFor()
    served.app.listen({ hostname: '127.0.0.1', port })
    await page.getByText('Reconnected to the tutor.', { exact: true }).waitFor({ timeout: 20_000 })
    await ask('Still there?')
    await log().getByText('Back again.').waitFor()
  }, 40_000)
})
