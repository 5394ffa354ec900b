/**
 * Browser runner benchmark: the real runner (Chromium in the sandbox) on this host.
 *
 * - cold: the first test, browser launch included.
 * - 3-click test: median and p90 of 20 tests one after the other on the warm browser (context, page, load, three
 *   clicks, one assertion, close).
 * - tic tac toe: the task's 11 browser tests at once (BROWSER_CONCURRENCY at a time), wall time, against a small
 *   front end written here.
 * - memory: PSS of every browser process, idle and with BROWSER_CONCURRENCY pages open at once.
 * - through HTTP against the floor: the real server (a child process) answering POST /api/execute-test-cases with
 *   one browser test (load, 3 clicks, 4 assertions), median of 20 warm requests; and, in the same run, the floor:
 *   plain playwright on the same Chromium with no sandbox, one page kept open, the page served from memory by
 *   routing, then load + 3 clicks + 4 assertions, median of 20. The ratio is ours / floor.
 * Run: `bun run bench browser` (BROWSER_CONCURRENCY, BROWSER_PATH from the environment).
 */
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { createBrowserRunner, type InteractiveTest } from '../src/browser'
import { loadConfig } from '../src/config'
import { createLogger } from '../src/logging'
import { createSandbox } from '../src/sandbox'
import { loadAverage, memoryMiB, processesOfUids } from './measure'
import { startServer } from './server'

const UID_BASE = 3_000_000 + Math.floor(Math.random() * 1000) * 1000

const COUNTER = {
  'index.html': `<button id="b">0</button><script>
    document.getElementById('b').addEventListener('click', (e) => { e.target.textContent = Number(e.target.textContent) + 1 })
  </script>`,
}
const THREE_CLICKS: InteractiveTest = {
  steps: [
    { action: 'click', selector: '#b' },
    { action: 'click', selector: '#b' },
    { action: 'click', selector: '#b' },
    { assert: 'elementText', selector: '#b', expected: '3' },
  ],
}

const TIC_TAC_TOE = {
  'index.html': `<link rel="stylesheet" href="style.css"><div id="board">${Array.from({ length: 9 }, (_, i) => `<div class="cell" data-index="${i}"></div>`).join('')}</div>
    <p id="status"></p><button id="reset">New game</button><script src="script.js"></script>`,
  'style.css':
    '.cell { width: 40px; height: 40px; display: inline-block; border: 1px solid #333 } .win { background: gold }',
  'script.js': `
    const LINES = [[0,1,2],[3,4,5],[6,7,8],[0,3,6],[1,4,7],[2,5,8],[0,4,8],[2,4,6]]
    const cells = [...document.querySelectorAll('.cell')], status = document.getElementById('status')
    let board, player, over
    function reset() { board = Array(9).fill(''); player = 'X'; over = false; cells.forEach((c) => { c.textContent = ''; c.classList.remove('win') }); status.textContent = "Player X's turn" }
    cells.forEach((cell) => cell.addEventListener('click', () => {
      const i = Number(cell.dataset.index)
      if (over || board[i]) return
      board[i] = cell.textContent = player
      const line = LINES.find((l) => l.every((j) => board[j] === player))
      if (line) { over = true; line.forEach((j) => cells[j].classList.add('win')); status.textContent = 'Player ' + player + ' wins!'; return }
      if (board.every(Boolean)) { over = true; status.textContent = "It's a draw!"; return }
      player = player === 'X' ? 'O' : 'X'; status.textContent = 'Player ' + player + "'s turn"
    }))
    document.getElementById('reset').addEventListener('click', reset)
    reset()`,
}

/** PSS in MB of every live process whose host uid is one of the benchmark's sandboxes. */
const browserPssMb = () => Math.round(memoryMiB(processesOfUids(UID_BASE).map(({ pid }) => pid)).pss)

const quantile = (values: number[], q: number) =>
  [...values].sort((a, b) => a - b)[Math.floor(q * (values.length - 1))]!

export async function run(): Promise<Record<string, unknown>[]> {
  const config = loadConfig({
    ...process.env,
    LOG_LEVEL: 'silent',
    EXEC_POOL_SIZE: '0',
    SANDBOX_UID_BASE: String(UID_BASE),
  })
  const logger = createLogger('silent')
  const sandbox = createSandbox({ config, logger })
  const runner = createBrowserRunner({ config, logger, sandbox })
  if (!runner.available()) return [{ case: 'skipped', reason: `no browser at ${config.BROWSER_PATH}` }]
  const rows: Record<string, unknown>[] = []
  try {
    let started = performance.now()
    const cold = await runner.runTest({ test: THREE_CLICKS, files: COUNTER, client: 'bench' })
    rows.push({
      case: 'cold (launch + 3-click test)',
      ms: Math.round(performance.now() - started),
      status: cold.status,
    })

    const times: number[] = []
    for (let i = 0; i < 20; i++) {
      started = performance.now()
      const result = await runner.runTest({ test: THREE_CLICKS, files: COUNTER, client: 'bench' })
      if (result.status !== 'pass') throw new Error(`3-click test: ${result.message}`)
      times.push(performance.now() - started)
    }
    rows.push({
      case: '3-click test, warm (median)',
      ms: Math.round(quantile(times, 0.5)),
      p90_ms: Math.round(quantile(times, 0.9)),
    })

    const file = JSON.parse(
      readFileSync(resolve(import.meta.dir, '../tasks/tic-tac-toe/tests/frontend/01-playing.json'), 'utf8'),
    )
    const tests = file.tests as InteractiveTest[]
    started = performance.now()
    const results = await Promise.all(
      tests.map((test) => runner.runTest({ test, files: TIC_TAC_TOE, client: 'bench' })),
    )
    rows.push({
      case: `tic tac toe, ${tests.length} browser tests (${config.BROWSER_CONCURRENCY} at a time)`,
      ms: Math.round(performance.now() - started),
      passed: results.filter((result) => result.status === 'pass').length,
      failures: results
        .filter((result) => result.status !== 'pass')
        .map((result) => result.message)
        .join(' | ')
        .slice(0, 600),
    })

    rows.push({ case: 'memory, idle warm browser (PSS)', mb: browserPssMb() })
    const holding: InteractiveTest = {
      steps: [
        { action: 'wait', duration: 3000 },
        { assert: 'elementExists', selector: '#b', expected: true },
      ],
    }
    const open = Array.from({ length: config.BROWSER_CONCURRENCY }, () =>
      runner.runTest({ test: holding, files: TIC_TAC_TOE, client: 'bench' }),
    )
    await Bun.sleep(2000) // the pages are open and loaded by now; they close after their 3 s wait
    rows.push({ case: `memory, ${config.BROWSER_CONCURRENCY} pages open (PSS)`, mb: browserPssMb() })
    await Promise.all(open)
  } finally {
    await runner.close()
    await sandbox.close()
  }
  const ours = await throughHttp()
  const floor = await playwrightFloor(config.BROWSER_PATH)
  rows.push(
    { case: 'load + 3 clicks + 4 assertions through HTTP, warm (median of 20)', ms: ours, load: loadAverage() },
    { case: 'the floor: plain playwright, no sandbox, page kept open (median of 20)', ms: floor },
    { case: 'ours / floor', ratio: Math.round((ours / floor) * 100) / 100 },
  )
  return rows
}

/** Load, 3 clicks, 4 assertions: the test both measurements below run. */
const CLICKS_AND_CHECKS: InteractiveTest['steps'] = [
  { action: 'click', selector: '#b' },
  { action: 'click', selector: '#b' },
  { action: 'click', selector: '#b' },
  { assert: 'elementText', selector: '#b', expected: '3' },
  { assert: 'elementVisible', selector: '#b', expected: true },
  { assert: 'elementCount', selector: 'button', expected: 1 },
  { assert: 'elementExists', selector: '#b', expected: true },
]

/** Median ms of 20 warm POST /api/execute-test-cases, each one browser test, to the real server. */
async function throughHttp(): Promise<number> {
  const server = await startServer(resolve(import.meta.dir, '..'), { BROWSER_PREWARM: 'true', EXEC_POOL_SIZE: '0' })
  try {
    const body = JSON.stringify({
      backendCode: '@endpoint\ndef unused():\n    return 1',
      frontendCode: { html: COUNTER['index.html'] },
      testCases: [{ name: 'three clicks', type: 'frontend_interactive', steps: CLICKS_AND_CHECKS }],
    })
    const once = async () => {
      const started = performance.now()
      const response = await fetch(`${server.base}/api/execute-test-cases`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      })
      const answer = (await response.json()) as { results?: { status: string; message: string }[] }
      if (answer.results?.[0]?.status !== 'pass') throw new Error(`through HTTP: ${JSON.stringify(answer)}`)
      return performance.now() - started
    }
    for (let i = 0; i < 3; i++) await once() // the browser, the page and the connection are warm after these
    const times: number[] = []
    for (let i = 0; i < 20; i++) times.push(await once())
    return Math.round(quantile(times, 0.5))
  } finally {
    server.proc.kill('SIGTERM')
    await server.proc.exited
  }
}

/** The same test with plain playwright: one page kept open, the page routed from memory, no sandbox. */
async function playwrightFloor(path: string): Promise<number> {
  const { chromium } = await import('playwright-core')
  const browser = await chromium.launch({ executablePath: path, args: ['--no-sandbox'] })
  try {
    const page = await browser.newPage()
    await page.route('**/*', (route) =>
      route.fulfill({ status: 200, contentType: 'text/html', body: COUNTER['index.html'] }),
    )
    const once = async () => {
      const started = performance.now()
      await page.goto('http://floor.test/index.html')
      const button = page.locator('#b')
      for (let i = 0; i < 3; i++) await button.click()
      if ((await button.textContent()) !== '3' || !(await button.isVisible())) throw new Error('floor: wrong page')
      if ((await page.locator('button').count()) !== 1 || (await button.count()) === 0) throw new Error('floor')
      return performance.now() - started
    }
    for (let i = 0; i < 3; i++) await once()
    const times: number[] = []
    for (let i = 0; i < 20; i++) times.push(await once())
    return Math.round(quantile(times, 0.5))
  } finally {
    await browser.close()
  }
}
