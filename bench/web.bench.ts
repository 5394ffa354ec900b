/**
 * The playground page: its weight (JS and CSS as sent, brotli and gzip; goal ≤ 300 KB), the first render of
 * /play in headless Chromium with a cold cache (a new browser context each run, until the Task picker lists the
 * tasks; goal ≤ 1 s), and typing in a 2,000-line file (time per keystroke, and long tasks over 50 ms while
 * typing). Run: `bun bench/web.bench.ts` (BENCH_RUNS runs of the render, default 5).
 */
import { chromium } from 'playwright-core'
import { createApp, closeServices } from '../src/app'
import { loadConfig } from '../src/config'
import { percentile } from './measure'

const RUNS = Number(process.env.BENCH_RUNS ?? 5)
const KEYS = Number(process.env.BENCH_KEYS ?? 200)

async function weight(url: string) {
  const html = await (await fetch(`${url}/play`)).text()
  const assets = [...html.matchAll(/(?:src|href)="(\/play\/assets\/[^"]+)"/g)].map((m) => m[1]!)
  const size = async (encoding: string) => {
    let total = 0
    for (const path of assets) {
      const response = await fetch(`${url}${path}`, { headers: { 'accept-encoding': encoding }, decompress: false })
      total += (await response.arrayBuffer()).byteLength
    }
    return Math.round(total / 102.4) / 10
  }
  return { br: await size('br'), gzip: await size('gzip'), raw: await size('identity') }
}

export async function run(): Promise<Record<string, unknown>[]> {
  const config = loadConfig({ LOG_LEVEL: 'silent', EXEC_POOL_SIZE: '0', DATABASE_URL: 'sqlite::memory:' })
  const app = createApp({ config }).listen({ hostname: '127.0.0.1', port: 0 })
  const url = `http://127.0.0.1:${app.server!.port}`
  const browser = await chromium.launch({
    executablePath: process.env.BROWSER_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  })
  try {
    const firstBuild = performance.now()
    await (await fetch(`${url}/play`)).text() // from source, the first request bundles the page
    const buildMs = performance.now() - firstBuild
    const sizes = await weight(url)

    const renders: number[] = []
    for (let i = 0; i < RUNS; i++) {
      const context = await browser.newContext()
      const page = await context.newPage()
      const start = performance.now()
      await page.goto(`${url}/play`)
      await page
        .getByRole('combobox', { name: 'Task', exact: true })
        .getByRole('option', { name: 'Tic Tac Toe' })
        .waitFor({ state: 'attached' })
      renders.push(performance.now() - start)
      await context.close()
    }

    const context = await browser.newContext()
    const page = await context.newPage()
    await page.goto(`${url}/play`)
    await page.getByRole('combobox', { name: 'Task', exact: true }).selectOption({ label: 'Tic Tac Toe' })
    const editor = page.getByRole('textbox', { name: 'Backend code', exact: true })
    await editor.filter({ hasText: 'def check_winner' }).waitFor()
    const lines = Array.from({ length: 2000 }, (_, i) => `def f${i}(x):  # line ${i}\n    return x + ${i}\n`)
      .join('')
      .split('\n')
      .slice(0, 2000)
    await editor.fill(lines.join('\n'))
    await editor.press('Control+End')
    await page.evaluate(
      `window.__long = 0; new PerformanceObserver((l) => { window.__long += l.getEntries().length }).observe({ type: 'longtask' })`,
    )
    const typing = performance.now()
    await page.keyboard.type('x = 1 + 2 # typed '.repeat(Math.ceil(KEYS / 18)).slice(0, KEYS))
    const perKey = (performance.now() - typing) / KEYS
    const longTasks = (await page.evaluate('window.__long')) as number
    await context.close()

    return [
      { measure: 'page weight JS+CSS, brotli (KB)', value: sizes.br, goal: '≤ 300' },
      { measure: 'page weight JS+CSS, gzip (KB)', value: sizes.gzip, goal: '' },
      { measure: 'page weight JS+CSS, uncompressed (KB)', value: sizes.raw, goal: '' },
      { measure: 'first /play from source, bundling included (ms)', value: Math.round(buildMs), goal: '' },
      {
        measure: `first render, cold cache, p50 of ${RUNS} (ms)`,
        value: Math.round(percentile(renders, 50)),
        goal: '≤ 1000',
      },
      { measure: `first render, cold cache, max of ${RUNS} (ms)`, value: Math.round(Math.max(...renders)), goal: '' },
      {
        measure: `typing in 2,000 lines, per keystroke over ${KEYS} (ms)`,
        value: Math.round(perKey * 10) / 10,
        goal: '',
      },
      { measure: 'long tasks (> 50 ms) while typing', value: longTasks, goal: '0' },
    ]
  } finally {
    await browser.close()
    await app.stop(true)
    await closeServices(app.decorator.services)
  }
}

if (import.meta.main) {
  console.table(await run())
  process.exit(0)
}
