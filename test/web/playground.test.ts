/**
 * The playground as a learner uses it, in Chromium against the real server (real sandbox and runner, the real
 * sandboxed browser for the server's own browser tests): controls are found by role and name only.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { browser, openPlayground, playground, SCREENSHOTS, seriousViolations, skipReason } from './helpers'
import { ROOT } from '../support/process'
import { loadPageBundle } from '../../src/web/bundle'

const SOLUTION = readFileSync(join(ROOT, 'tasks/tic-tac-toe/solution.py'), 'utf8')
const { url } = playground({ real: ['runner', 'browser'], config: { BROWSER_TEST_TIMEOUT_MS: '45000' } })
const chromium = browser()

describe('serving the page', () => {
  test('a browser asking for / is sent to /play; an API client keeps the JSON', async () => {
    const page = await fetch(`${url}/`, { headers: { accept: 'text/html,application/xhtml+xml' }, redirect: 'manual' })
    expect({ status: page.status, location: page.headers.get('location') }).toEqual({ status: 302, location: '/play' })
    const api = await fetch(`${url}/`, { headers: { accept: 'application/json' } })
    expect((await api.json()).message).toBe('AI Coding Assistant Backend is running!')
  })

  test('/play has a policy without inline script; its assets are hashed, immutable and compressed', async () => {
    const response = await fetch(`${url}/play`)
    const policy = response.headers.get('content-security-policy') ?? ''
    expect(policy).toContain("script-src 'self';")
    expect(policy).toContain("connect-src 'self';")
    expect(policy).not.toContain('unsafe-inline')
    const html = await response.text()
    const assets = [...html.matchAll(/(?:src|href)="(\/play\/assets\/[^"]+)"/g)].map((m) => m[1]!)
    expect(assets.map((path) => /-[a-z0-9]{8}\.(js|css)$/.test(path))).toEqual([true, true])
    await (await loadPageBundle()).brotli // made in the background after the page is ready
    for (const path of assets) {
      for (const encoding of ['br', 'gzip']) {
        // fetch() would decompress on its own: ask for the raw bytes.
        const asset = await fetch(`${url}${path}`, { headers: { 'accept-encoding': encoding }, decompress: false })
        expect({
          status: asset.status,
          encoding: asset.headers.get('content-encoding'),
          cache: asset.headers.get('cache-control'),
        }).toEqual({ status: 200, encoding, cache: 'public, max-age=31536000, immutable' })
      }
    }
    expect((await fetch(`${url}/play/assets/nothing-here.js`)).status).toBe(404)
  }, 60_000)
})

describe.skipIf(skipReason !== null)('working on a task', () => {
  let page: Page
  let problems: string[]
  afterAll(async () => {
    await page?.context().close()
  })

  const backend = () => page.getByRole('textbox', { name: 'Backend code', exact: true })
  const frontend = () => page.getByRole('textbox', { name: 'Frontend code', exact: true })
  const button = (name: string) => page.getByRole('button', { name, exact: true })
  const results = () => page.getByRole('region', { name: 'Results', exact: true })

  test('picking Tic Tac Toe shows its instructions and starter files', async () => {
    ;({ page, problems } = await openPlayground(await chromium(), url))
    await page.getByRole('combobox', { name: 'Task', exact: true }).selectOption({ label: 'Tic Tac Toe' })
    await backend().filter({ hasText: 'def check_winner(board):' }).waitFor()
    expect(await page.getByRole('tab').allTextContents()).toEqual(['index.html', 'style.css', 'script.js'])
    await frontend().filter({ hasText: '<!DOCTYPE html>' }).waitFor()
    await page.getByRole('heading', { name: 'Tic Tac Toe', exact: true }).waitFor()
    expect(await seriousViolations(page)).toEqual([])
    mkdirSync(SCREENSHOTS, { recursive: true })
    await page.screenshot({ path: join(SCREENSHOTS, 'workspace.png') })
  }, 30_000)

  test('Run calls an endpoint with JSON arguments and shows what it returned', async () => {
    await backend().fill(SOLUTION)
    await page.getByRole('combobox', { name: 'Endpoint', exact: true }).selectOption('/check_winner')
    await page
      .getByRole('textbox', { name: 'Arguments (JSON)', exact: true })
      .fill(JSON.stringify({ board: ['X', 'X', 'X', 'O', 'O', '', '', '', ''] }))
    await button('Run').click()
    const result = results().getByLabel('Result', { exact: true })
    await result.waitFor()
    expect(JSON.parse((await result.textContent())!)).toEqual({ winner: 'X', line: [0, 1, 2], draw: false })
  }, 30_000)

  test('Run tests shows each public test as its result arrives', async () => {
    // Every change of a test's status, as the page makes it: results must come in one by one, not all at the end.
    await page.evaluate(`window.__seen = []; new MutationObserver(() => {
      const items = [...document.querySelectorAll('[aria-label="Test results"] li')]
      if (items.length) window.__seen.push(items.filter((li) => li.dataset.status !== 'waiting').length + '/' + items.length)
    }).observe(document.getElementById('results'), { subtree: true, childList: true, attributes: true })`)
    await button('Run tests').click()
    const list = results().getByRole('list', { name: 'Test results', exact: true })
    await results()
      .getByText(/^\d+ passed, \d+ failed/)
      .waitFor({ timeout: 60_000 })
    const statuses = await list
      .getByRole('listitem')
      .evaluateAll((items) => items.map((li) => (li as HTMLElement).dataset.status))
    expect(statuses.length).toBeGreaterThan(10)
    // Every public test got its result (the solution passes the endpoint tests; the starter page fails some).
    expect(statuses.filter((status) => status === 'waiting' || status === 'missed')).toEqual([])
    const seen = (await page.evaluate('window.__seen')) as string[]
    const partial = seen.filter((entry) => {
      const [done, all] = entry.split('/').map(Number)
      return done! > 0 && done! < all!
    })
    expect(partial.length).toBeGreaterThan(0)
  }, 90_000)

  test('Grade: the sample solution scores 100% on the endpoint tests; a broken page fails with a screenshot', async () => {
    await page.getByRole('tab', { name: 'script.js', exact: true }).click()
    await frontend().fill("throw new Error('this page is broken')\n")
    await button('Grade').click()
    const groups = results().getByRole('list', { name: 'Score per group', exact: true })
    await groups.waitFor({ timeout: 90_000 })
    expect(await groups.getByRole('listitem').first().textContent()).toStartWith('Endpoint tests: 100%')
    const shot = results().getByRole('img', { name: /^Screenshot of the page when “Clicking a cell places X” failed/ })
    await shot.waitFor()
    expect(await shot.evaluate((img) => (img as HTMLImageElement).naturalWidth)).toBeGreaterThan(100)
    await results()
      .getByText(/^Score: \d+(\.\d)?% \(\d+ of \d+ graded tests passed/)
      .waitFor()
    await results().getByText('Saved: this grading is in your History.').waitFor()
    expect(await seriousViolations(page)).toEqual([])
    await shot.scrollIntoViewIfNeeded()
    await page.screenshot({ path: join(SCREENSHOTS, 'grade.png') })
  }, 120_000)

  test('a reload keeps the edits; Reset brings back the starter files', async () => {
    await page.reload()
    await backend().filter({ hasText: 'Reference solution of the Tic Tac Toe backend' }).waitFor()
    await page.getByRole('tab', { name: 'script.js', exact: true }).click()
    await frontend()
      .filter({ hasText: /^throw new Error\('this page is broken'\)$/ })
      .waitFor()
    await button('Reset').click()
    await backend().filter({ hasText: '# TODO' }).waitFor()
    await page.getByRole('tab', { name: 'script.js', exact: true }).click()
    expect(await frontend().textContent()).not.toContain('this page is broken')
    await page.reload()
    await backend().filter({ hasText: '# TODO' }).waitFor()
    await page.getByRole('tab', { name: 'script.js', exact: true }).click()
    expect(await frontend().textContent()).not.toContain('this page is broken')
  }, 30_000)

  test("the preview runs the learner's page, which cannot read the access key or reach the API", async () => {
    await page.evaluate(`sessionStorage.setItem('playground.access-key', 'secret-key-of-the-learner')`)
    await page.getByRole('tab', { name: 'index.html', exact: true }).click()
    await frontend().fill(`<!doctype html><html><body><p id="out">waiting</p><script>
const seen = []
const attempt = (name, read) => { try { seen.push(name + ':' + read()) } catch (e) { seen.push(name + ':blocked') } }
attempt('parent-storage', () => parent.sessionStorage.getItem('playground.access-key'))
attempt('own-storage', () => sessionStorage.getItem('playground.access-key'))
attempt('parent-page', () => parent.document.title)
fetch('/api/progress').then((r) => 'fetch:' + r.status, () => 'fetch:blocked')
  .then((line) => { seen.push(line); document.getElementById('out').textContent = seen.join(' ') })
</script></body></html>`)
    await button('Preview').click()
    const frame = page.frameLocator('iframe[title="Preview"]')
    await frame.getByText(/fetch:/).waitFor()
    expect(await frame.locator('#out').textContent()).toBe(
      'parent-storage:blocked own-storage:blocked parent-page:blocked fetch:blocked',
    )
    expect(await page.locator('iframe[title="Preview"]').getAttribute('sandbox')).toBe('allow-scripts')
    await page.screenshot({ path: join(SCREENSHOTS, 'preview.png') })
    // The only refusals of the whole session: the learner's fetch, by the preview's own policy.
    const ours = problems.filter((p) => !p.includes("connect-src 'none'") && !p.startsWith('Fetch API cannot load'))
    expect({ ours, refused: problems.length }).toEqual({ ours: [], refused: 2 })
  }, 30_000)
})
