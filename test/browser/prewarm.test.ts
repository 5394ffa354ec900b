/**
 * Start-up of the browser runner: /health does not wait for Chromium's version (it says `warming_up`), and with
 * BROWSER_PREWARM=true the warm-up after listening starts the shared browser, so the first grading finds it running.
 */
import { describe, expect, test } from 'bun:test'
import { named, realRunner, skipReason } from './helpers'

describe.skipIf(skipReason !== null)(named('browser warm-up'), () => {
  test('health says warming_up until the version is known, then reports it', async () => {
    const { runner, close } = realRunner()
    expect((await runner.health()).browser).toMatchObject({ ok: true, found: true, version: null, warming_up: true })
    await runner.warmUp!()
    const report = (await runner.health()).browser as Record<string, unknown>
    expect(report).toMatchObject({ ok: true, found: true, running: false, prewarm: false })
    expect(report.warming_up).toBeUndefined()
    expect(report.version).toMatch(/^\d+\./)
    await close()
  })

  test('BROWSER_PREWARM=true: the warm-up starts Chromium before any test asks for it', async () => {
    const { runner, close } = realRunner({ BROWSER_PREWARM: 'true' })
    await runner.warmUp!()
    expect((await runner.health()).browser).toMatchObject({ ok: true, running: true, prewarm: true })
    await close()
  })
})
