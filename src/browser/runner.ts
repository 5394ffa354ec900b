/**
 * The browser runner behind its port (index.ts): one warm Chromium, started on the first test, started again if
 * it dies, closed on shutdown; each test on a page kept for it and reset after it (pages.ts), with its own learner
 * backend; two tests at once, more up to BROWSER_CONCURRENCY while memory allows, shared fairly between clients
 * (slots.ts); a time limit per step and per test, started once the test holds its slot and its page. When the
 * limit of a test passes, its page is closed under it: a page that loops forever or floods dialogs ends as a
 * failed test, and the browser goes on serving the next one. A test whose browser ended under
 * it (a neighbour's doing) runs again alone on a browser of its own (withRetry), so it is never failed for that.
 */
import type { Logger } from '../logging'
import { pending } from '../services'
import type { Sandbox } from '../sandbox'
import { createBackend, type Backend, type BackendSettings } from './backend'
import type { FrontendFiles } from './files'
import type { BrowserRunner, BrowserStepResult, BrowserTestResult, InteractiveTest } from './model'
import { launchChromium, type LaunchedBrowser } from './launch'
import { loadPage, type OpenedPage } from './page'
import { createPagePool } from './pages'
import { takeScreenshot, type ScreenshotSettings } from './screenshot'
import { createSlots } from './slots'
import { createNormalizer, type Normalizer } from './world'
import { createStarvationMonitor, type Starvation } from './starvation'
import { runStep, type StepTools } from './steps'
import { fillSkipped, firstLine, isExecutable, PageFailure, readVersion, TestTimeout, Unavailable } from './outcome'
import { closedWithin } from './within'

/** What withPage needs to make a test's page. */
interface PageRun {
  files: FrontendFiles
  backendCode?: string
  setup?: InteractiveTest['setup']
  client: string
  signal?: AbortSignal
  /** On a browser of its own, not the shared one (a test run again after its browser ended). */
  solo?: boolean
  onSlot?: () => () => void
}

type PageBody<T> = (opened: OpenedPage, tools: StepTools, remainingMs: () => number) => Promise<T>

/** The browser ended under a page, or the page's renderer was killed (withRetry runs the test again). */
class BrowserDied extends Error {
  constructor(readonly pageCrashed: boolean) {
    super('the browser ended under the page')
  }
}

/** The settings this module reads (src/config.ts documents each). */
export interface BrowserSettings extends BackendSettings, ScreenshotSettings {
  BROWSER_PATH: string
  BROWSER_CONCURRENCY: number
  BROWSER_PREWARM: boolean
  BROWSER_TEST_TIMEOUT_MS: number
  BROWSER_STEP_TIMEOUT_MS: number
  BROWSER_MEMORY_MB: number
}

const noop = () => {}

export interface BrowserRunnerOptions {
  config: BrowserSettings
  logger: Logger
  sandbox: Sandbox
}

export function createBrowserRunner({ config, logger, sandbox }: BrowserRunnerOptions): BrowserRunner {
  const found = isExecutable(config.BROWSER_PATH)
  const stepTimeoutMs = Math.min(config.BROWSER_STEP_TIMEOUT_MS, config.BROWSER_TEST_TIMEOUT_MS)
  const pages = createPagePool({
    keep: config.BROWSER_CONCURRENCY,
    browserMemoryBytes: config.BROWSER_MEMORY_MB * 1024 * 1024,
    stepTimeoutMs,
    logger,
    keeps: (running) => current === running && !closed,
    async restart(running) {
      forget(running)
      await running.close()
    },
  })
  // Two tests at once always; more (up to BROWSER_CONCURRENCY) while the browser's memory has room for a page.
  const slots = createSlots(config.BROWSER_CONCURRENCY, {
    base: Math.min(2, config.BROWSER_CONCURRENCY),
    room: () => current === null || pages.roomFor(current, 1),
  })
  /** Tests run again alone (withRetry) go one at a time: each has a browser of its own. */
  const soloSlot = createSlots(1)
  const starvation = createStarvationMonitor()
  let launched: Promise<LaunchedBrowser> | null = null
  let version: string | null = null
  /** The browser that is up now (launched resolved and not yet exited). */
  let current: LaunchedBrowser | null = null
  /** Why the last launch failed; cleared by the next one that works. Makes /health say degraded. */
  let launchError: string | null = null
  let installedVersion: Promise<string | null> | undefined
  let closed = false

  /** The launch each browser came from. */
  const launchOf = new WeakMap<LaunchedBrowser, Promise<LaunchedBrowser>>()

  /** The warm browser, launched if there is none (or the last one died). */
  function browser(): Promise<LaunchedBrowser> {
    if (launched) return launched
    const starting = (async () => {
      const state = await sandbox.ready()
      if (!state.sandboxed)
        throw new Unavailable('the browser runs only inside the sandbox (bubblewrap), which is not available')
      return launch()
    })()
    launched = starting
    starting.then(
      (running) => {
        launchOf.set(running, starting)
        version = running.version
        current = running
        launchError = null
        logger.info('browser started', { version })
        // Disconnected comes first (the DevTools pipe closes with the browser); the sandbox ends a moment later.
        running.browser.on('disconnected', () => forget(running))
        void running.exited.then(() => {
          forget(running)
          if (!closed) logger.warn('browser ended; the next test starts a new one', { oom_killed: running.oomKilled() })
        })
        if (closed) void running.close()
      },
      (error) => {
        if (launched === starting) launched = null
        if (error instanceof Unavailable) return
        launchError = firstLine(error as Error)
        logger.error('browser failed to start', { error: launchError })
      },
    )
    return starting
  }

  /** Browsers being closed after they died or hung: close() waits for them too. */
  const closing = new Set<Promise<void>>()

  /** Stops handing out `running` (it died, or hangs): the next test launches a new browser. */
  function forget(running: LaunchedBrowser) {
    if (current === running) current = null
    // Only the launch that gave `running`: a newer one may be under way already (and must not be lost).
    if (launched && launched === launchOf.get(running)) launched = null
    const done = running.close()
    closing.add(done)
    void done.then(() => closing.delete(done))
  }

  /** A Chromium in the sandbox: the shared one, or one of its own for a test run again alone (see withRetry). */
  function launch(): Promise<LaunchedBrowser> {
    return launchChromium({
      sandbox,
      path: config.BROWSER_PATH,
      memoryBytes: config.BROWSER_MEMORY_MB * 1024 * 1024,
      tmpfsBytes: Math.min(512, config.BROWSER_MEMORY_MB / 2) * 1024 * 1024,
      timeoutMs: config.BROWSER_TEST_TIMEOUT_MS,
    })
  }

  const normalizers = new WeakMap<LaunchedBrowser, Normalizer>()
  const normalizerOf = (running: LaunchedBrowser) => {
    let normalizer = normalizers.get(running)
    if (!normalizer) normalizers.set(running, (normalizer = createNormalizer(running.browser)))
    return normalizer
  }

  /**
   * Runs `body` on a fresh page within the test's time limit, in a slot (the shared browser), or alone on a browser
   * of its own (`solo`). Everything made for the test (context, backend) is gone when it resolves, whatever
   * happened. Throws BrowserDied when the browser ended under the page (see withRetry).
   */
  async function withPage<T>(input: PageRun, body: PageBody<T>): Promise<T> {
    const slot = await (input.solo ? soloSlot : slots).acquire(input.client, input.signal)
    const slotReturned = input.onSlot?.()
    // The slot is free for the next test once this one's page has been reset; the caller's clock stops at its answer.
    const release = () => {
      slotReturned?.()
      slot()
    }
    // The test's time starts again once its page is open: starting a browser or a context on a busy host is ours.
    let started = performance.now()
    // Never below 1: work that goes on after the limit (until its context closes) must not get a negative timer.
    const remainingMs = () => Math.max(1, config.BROWSER_TEST_TIMEOUT_MS - (performance.now() - started))
    let backend: Backend | null = null
    let opened: OpenedPage | null = null
    let timer: Timer | undefined
    let running: LaunchedBrowser | null = null
    let reusable = false
    /** Whether the browser discarded much of what pages sent during this test (this page's doing, or a neighbour's). */
    let flooded = () => true
    /** Set once the test has its result; work still under way afterwards cleans up after itself. */
    let over = false
    const abort = () => void opened?.context.close().catch(() => {})
    input.signal?.addEventListener('abort', abort)
    try {
      running = input.solo ? await launch() : await browser()
      backend = input.backendCode?.trim() ? createBackend(config, sandbox, input.backendCode, stepTimeoutMs * 2) : null
      let expire: (error: Error) => void = () => {}
      const limit = new Promise<never>((_, reject) => (expire = reject))
      const arm = () => {
        clearTimeout(timer)
        timer = setTimeout(() => expire(new TestTimeout()), remainingMs())
      }
      arm()
      flooded = pages.watchFlood(running)
      const work = (async () => {
        const fresh = await pages.take(running!, input.solo).catch(async (error) => {
          // The browser died since the last test (and we had not noticed yet): once more with a new one.
          if (input.solo || !(await browserDied(running!, null, true))) throw error
          forget(running!)
          running = await browser()
          return pages.take(running, false)
        })
        if (over) {
          // The limit passed while the page was being made: nobody else will close it.
          await fresh.context.close().catch(() => {})
          throw new TestTimeout()
        }
        opened = fresh
        await fresh.assign({ files: input.files, setup: input.setup, backend })
        started = performance.now()
        arm()
        const normalizer = normalizerOf(running!)
        const tools: StepTools = {
          settled: fresh.settled,
          world: fresh.world(),
          normalize: (property, value) => normalizer.normalize(property, value),
        }
        return body(fresh, tools, remainingMs)
      })()
      work.catch(() => {}) // settled after the limit: its failure is the limit's
      let outcome: { value: T } | { error: unknown }
      try {
        outcome = { value: await Promise.race([work, limit]) }
      } catch (error) {
        outcome = { error }
      }
      const ended = 'error' in outcome && (outcome.error instanceof TestTimeout || input.signal?.aborted)
      if (!ended && (await browserDied(running, opened, false)))
        throw new BrowserDied((opened as OpenedPage | null)?.crashed() ?? false)
      // A page whose test ended by itself (passed or failed) may serve the next test once it is reset.
      reusable = !ended
      if ('error' in outcome) throw outcome.error
      return outcome.value
    } finally {
      over = true
      clearTimeout(timer)
      input.signal?.removeEventListener('abort', abort)
      backend?.close()
      const page = opened as OpenedPage | null
      const used = running as LaunchedBrowser | null
      if (input.solo) {
        await used?.close()
        release()
      } else if (page && used && reusable) {
        // The answer need not wait for the reset; the slot does (the page is busy until then).
        slotReturned?.()
        void pages.giveBack(used, page, flooded).finally(slot)
      } else {
        if (page && used) await pages.close(used, page)
        release()
      }
    }
  }

  /**
   * Whether `running` ended (or is ending) under a page, or the page's renderer was killed (in a shared memory
   * cgroup the kernel may pick a neighbour's). A page closed without our doing means its browser may be going: the
   * news of its end gets a moment to arrive. `opening`: the page could not even be made.
   */
  async function browserDied(running: LaunchedBrowser, opened: OpenedPage | null, opening: boolean) {
    if (!running.browser.isConnected() || opened?.crashed()) return true
    if (!opening && !opened?.page.isClosed()) return false
    return closedWithin(running.exited, 2000)
  }

  /**
   * One page must not fail another's test: when the shared browser ends under a test (a neighbour's page took it
   * down, or the kernel killed it for the memory of all its pages), or the page's renderer was killed, the test
   * runs once more, alone on a browser of its own. If that browser ends too, the page itself is the cause.
   */
  async function withRetry<T>(input: PageRun, body: PageBody<T>): Promise<T> {
    try {
      return await withPage(input, body)
    } catch (error) {
      if (!(error instanceof BrowserDied) || input.signal?.aborted || closed) throw error
      logger.warn('a browser ended under a test; running it again on a browser of its own', { client: input.client })
    }
    try {
      return await withPage({ ...input, solo: true }, body)
    } catch (error) {
      if (!(error instanceof BrowserDied)) throw error
      if (error.pageCrashed) throw new PageFailure('page_crashed', 'The page crashed (out of memory, or killed)')
      throw new PageFailure('browser_crashed', 'The browser crashed while running this page, also when it ran alone')
    }
  }

  /**
   * Runs a test; one that failed in a way a starved harness can cause (a step or the test out of time, an
   * assertion whose page had no time to update) while this server stood still is run again, and if it is starved
   * again reported as our error (`harness_starved`), never as the learner's failure.
   */
  async function runTest(input: Parameters<BrowserRunner['runTest']>[0]): Promise<BrowserTestResult> {
    const unavailable = unavailableReason()
    if (unavailable)
      return { status: 'skip', reason: 'browser_unavailable', message: unavailable, steps: [], durationMs: 0 }
    // A failed step is judged by the starvation during that step alone; a test out of time by its whole run.
    const watched = async () => {
      const watch = starvation.watch()
      const failedStep: { seen?: Starvation } = {}
      const result = await runOnce(input, failedStep)
      const whole = watch.end()
      return { result, ...(result.reason === undefined && failedStep.seen ? failedStep.seen : whole) }
    }
    const unfair = ({ status, reason }: BrowserTestResult) =>
      status === 'fail' && (reason === undefined || reason === 'timeout' || reason === 'load_failed')
    const first = await watched()
    if (!first.starved || !unfair(first.result) || input.signal?.aborted || closed) return first.result
    logger.warn('a browser test failed while the server was starved of CPU; running it again', {
      client: input.client,
      lag_ms: first.lagMs,
    })
    const second = await watched()
    if (!second.starved || !unfair(second.result)) return second.result
    return {
      status: 'error',
      reason: 'harness_starved',
      message: `The server was too busy to run this test fairly (it stood still for ${second.lagMs} ms); this is our error, not the page's`,
      steps: second.result.steps,
      durationMs: second.result.durationMs,
    }
  }

  /** One run of a test; `failedStep.seen` gets the starvation during the step that failed, if one did. */
  async function runOnce(
    { test, files, backendCode, client, signal, onSlot }: Parameters<BrowserRunner['runTest']>[0],
    failedStep: { seen?: Starvation },
  ): Promise<BrowserTestResult> {
    const started = performance.now()
    const durationMs = () => Math.round(performance.now() - started)
    const steps: BrowserStepResult[] = []
    let screenshot: string | undefined
    let page: OpenedPage | null = null
    try {
      const run = { files, backendCode, setup: test.setup, client, signal, onSlot }
      const outcome = await withRetry(run, async (opened, tools, remainingMs) => {
        // A run again alone starts over: the first run's steps are not this one's.
        steps.length = 0
        screenshot = undefined
        page = opened
        // Loading gets what is left of the test (a busy host may take seconds); steps get their own limit.
        await loadPage(opened.page, files, remainingMs()).catch((error: Error) => {
          throw new PageFailure('load_failed', `The page did not load: ${firstLine(error)}`)
        })
        for (const [index, step] of test.steps.entries()) {
          const watch = starvation.watch()
          const result = await runStep(opened.page, step, index, Math.min(stepTimeoutMs, remainingMs()), tools)
          failedStep.seen = watch.end()
          steps.push(result)
          if (opened.crashed()) throw new PageFailure('page_crashed', 'The page crashed (out of memory, or killed)')
          if (result.status === 'fail') {
            screenshot = await takeScreenshot(opened.page, config, Math.min(3000, remainingMs())).catch(() => undefined)
            return { status: 'fail' as const, message: `Step ${index + 1} failed: ${result.message}` }
          }
        }
        return { status: 'pass' as const, message: `All ${test.steps.length} steps passed` }
      })
      if (signal?.aborted) throw signal.reason // its context was closed under it: the steps' failures are not the page's
      return {
        ...outcome,
        steps: fillSkipped(test, steps),
        durationMs: durationMs(),
        ...(screenshot ? { screenshot } : {}),
      }
    } catch (error) {
      const crashed = (page as OpenedPage | null)?.crashed() ?? false
      const [reason, message] =
        error instanceof TestTimeout
          ? ['timeout', `The test did not finish within ${config.BROWSER_TEST_TIMEOUT_MS} ms`]
          : crashed
            ? ['page_crashed', 'The page crashed (out of memory, or killed)']
            : error instanceof PageFailure
              ? [error.reason, error.message]
              : error instanceof Unavailable
                ? ['browser_unavailable', error.message]
                : signal?.aborted
                  ? ['cancelled', 'The test was cancelled']
                  : ['browser_error', `The browser failed: ${firstLine(error as Error)}`]
      if (reason === 'browser_unavailable')
        return { status: 'skip', reason, message, steps: [], durationMs: durationMs() }
      const status = reason === 'browser_error' || reason === 'cancelled' ? 'error' : 'fail'
      return { status, reason, message, steps: fillSkipped(test, steps), durationMs: durationMs() }
    }
  }

  function unavailableReason(): string | null {
    if (closed) return 'The browser runner is shutting down'
    if (!found) return `No browser at ${config.BROWSER_PATH} (install chromium, or set BROWSER_PATH)`
    return null
  }

  return {
    available: () => unavailableReason() === null,
    runTest,
    async screenshot({ files, backendCode, steps, client, signal, onSlot }) {
      const unavailable = unavailableReason()
      if (unavailable) return { error: unavailable, reason: 'browser_unavailable' }
      try {
        return await withRetry({ files, backendCode, client, signal, onSlot }, async (opened, tools, remainingMs) => {
          if (!steps?.length) await loadPage(opened.page, files, remainingMs() / 2).catch(() => {})
          else {
            // Steps need a loaded page, as in a browser test.
            await loadPage(opened.page, files, remainingMs()).catch((error: Error) => {
              throw new PageFailure('load_failed', `The page did not load: ${firstLine(error)}`)
            })
            for (const [index, step] of steps.entries()) {
              const result = await runStep(opened.page, step, index, Math.min(stepTimeoutMs, remainingMs()), tools)
              if (result.status === 'fail')
                return { error: `Step ${index + 1} failed: ${result.message}`, reason: 'steps_failed' }
            }
          }
          const dataUrl = await takeScreenshot(opened.page, config, Math.max(0, remainingMs()))
          return dataUrl
            ? { dataUrl }
            : { error: 'The screenshot is larger than allowed', reason: 'screenshot_too_large' }
        })
      } catch (error) {
        if (error instanceof TestTimeout) return { error: 'The page did not settle in time', reason: 'timeout' }
        if (error instanceof Unavailable) return { error: error.message, reason: 'browser_unavailable' }
        if (error instanceof PageFailure) return { error: error.message, reason: error.reason }
        return { error: `The browser failed: ${firstLine(error as Error)}`, reason: 'browser_error' }
      }
    },
    async warmUp() {
      if (found) version ??= await (installedVersion ??= readVersion(config.BROWSER_PATH))
      if (found && config.BROWSER_PREWARM && !closed) await browser().then(noop, noop)
    },
    async health() {
      // The version comes from starting Chromium once (~70-250 ms): /health does not wait for it.
      if (found && version === null) installedVersion ??= readVersion(config.BROWSER_PATH)
      const warming = found && version === null && pending(installedVersion!)
      if (found && version === null && !warming) version = await installedVersion!
      // Without Chromium the server is whole (browser tests are skipped, and say why); a browser that is installed
      // and does not start is a fault.
      const running = current !== null
      return {
        browser: {
          ok: launchError === null,
          found,
          path: config.BROWSER_PATH,
          version,
          running,
          prewarm: config.BROWSER_PREWARM,
          ...(warming ? { warming_up: true } : {}),
          ...slots.stats(),
          // Pages made for tests, and tests that got a page an earlier test had used (reset in between).
          pages: pages.stats(),
          // What the DevTools bridge dropped of the pages' traffic (console output, oversized messages).
          ...(current ? { devtools: (current as LaunchedBrowser).bridgeStats() } : {}),
          ...(found ? {} : { warning: 'no browser: browser tests are skipped (browser_unavailable)' }),
          ...(launchError ? { error: launchError } : {}),
        },
      }
    },
    async close() {
      closed = true
      const running = launched
      launched = null
      await running?.then(
        (browser) => browser.close(),
        () => {},
      )
      await Promise.all(closing)
    },
  }
}
