/**
 * The browser runner behind its port (index.ts): one warm Chromium, started on the first test, started again if
 * it dies, closed on shutdown; each test in a fresh context with its own learner backend; at most
 * BROWSER_CONCURRENCY tests at once (the rest wait in order); a time limit per step and per test. When the limit
 * of a test passes, its context is closed under it: a page that loops forever or floods dialogs ends as a
 * failed test, and the browser goes on serving the next one.
 */
import type { Config } from '../config'
import type { Logger } from '../logging'
import type { Sandbox } from '../sandbox'
import { createBackend, type Backend } from './backend'
import type { FrontendFiles } from './files'
import type { BrowserRunner, BrowserStepResult, BrowserTestResult, InteractiveTest } from './model'
import { launchChromium, type LaunchedBrowser } from './launch'
import { loadPage, openPage, type OpenedPage } from './page'
import { takeScreenshot } from './screenshot'
import { createSlots } from './slots'
import { runStep } from './steps'
import {
  CLOSE_WAIT_MS,
  closedWithin,
  fillSkipped,
  firstLine,
  isExecutable,
  PageFailure,
  readVersion,
  TestTimeout,
  Unavailable,
} from './outcome'

export interface BrowserRunnerOptions {
  config: Config
  logger: Logger
  sandbox: Sandbox
}

export function createBrowserRunner({ config, logger, sandbox }: BrowserRunnerOptions): BrowserRunner {
  const found = isExecutable(config.BROWSER_PATH)
  const slots = createSlots(config.BROWSER_CONCURRENCY)
  let launched: Promise<LaunchedBrowser> | null = null
  let version: string | null = null
  /** The browser that is up now (launched resolved and not yet exited). */
  let current: LaunchedBrowser | null = null
  /** Why the last launch failed; cleared by the next one that works. Makes /health say degraded. */
  let launchError: string | null = null
  let installedVersion: Promise<string | null> | undefined
  let closed = false
  const stepTimeoutMs = Math.min(config.BROWSER_STEP_TIMEOUT_MS, config.BROWSER_TEST_TIMEOUT_MS)

  /** The warm browser, launched if there is none (or the last one died). */
  function browser(): Promise<LaunchedBrowser> {
    if (launched) return launched
    const starting = (async () => {
      const state = await sandbox.ready()
      if (!state.sandboxed)
        throw new Unavailable('the browser runs only inside the sandbox (bubblewrap), which is not available')
      return launchChromium({
        sandbox,
        path: config.BROWSER_PATH,
        memoryBytes: config.BROWSER_MEMORY_MB * 1024 * 1024,
        tmpfsBytes: Math.min(512, config.BROWSER_MEMORY_MB / 2) * 1024 * 1024,
        timeoutMs: config.BROWSER_TEST_TIMEOUT_MS,
      })
    })()
    launched = starting
    starting.then(
      (running) => {
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

  /** Stops handing out `running` (it died, or hangs): the next test launches a new browser. */
  function forget(running: LaunchedBrowser) {
    if (current === running) {
      current = null
      launched = null // it is the launch that gave `running`: a newer one would have made `current` newer
    }
    void running.close()
  }

  /**
   * Runs `body` on a fresh page within the test's time limit, in a slot. Everything made for the test (context,
   * backend) is gone when it resolves, whatever happened.
   */
  async function withPage<T>(
    input: { files: FrontendFiles; backendCode?: string; setup?: InteractiveTest['setup']; signal?: AbortSignal },
    body: (opened: OpenedPage, remainingMs: () => number) => Promise<T>,
  ): Promise<T> {
    const release = await slots.acquire(input.signal)
    const started = performance.now()
    // Never below 1: work that goes on after the limit (until its context closes) must not get a negative timer.
    const remainingMs = () => Math.max(1, config.BROWSER_TEST_TIMEOUT_MS - (performance.now() - started))
    let backend: Backend | null = null
    let opened: OpenedPage | null = null
    let timer: Timer | undefined
    let running: LaunchedBrowser | null = null
    /** Set once the test has its result; work still under way afterwards cleans up after itself. */
    let over = false
    const abort = () => void opened?.context.close().catch(() => {})
    input.signal?.addEventListener('abort', abort)
    try {
      running = await browser()
      backend = input.backendCode?.trim() ? createBackend(config, sandbox, input.backendCode, stepTimeoutMs * 2) : null
      const limit = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new TestTimeout()), remainingMs())
      })
      const pageOptions = { files: input.files, setup: input.setup, backend, stepTimeoutMs }
      const work = (async () => {
        const fresh = await openPage(running!.browser, pageOptions).catch(async (error) => {
          // The browser died since the last test (and we had not noticed yet): once more with a new one. Its
          // failure can come before the news of its end, so that gets a moment to arrive.
          const ended = running!.exited.then(() => true)
          const dead =
            !running!.browser.isConnected() || (await Promise.race([ended, Bun.sleep(2000).then(() => false)]))
          if (!dead) throw error
          forget(running!)
          running = await browser()
          return openPage(running.browser, pageOptions)
        })
        if (over) {
          // The limit passed while the context was being made: nobody else will close it.
          await fresh.context.close().catch(() => {})
          throw new TestTimeout()
        }
        opened = fresh
        return body(fresh, remainingMs)
      })()
      work.catch(() => {}) // settled after the limit: its failure is the limit's
      return await Promise.race([work, limit])
    } finally {
      over = true
      clearTimeout(timer)
      input.signal?.removeEventListener('abort', abort)
      const context = (opened as OpenedPage | null)?.context
      // A context whose renderer is stuck may not close: then the whole browser goes, and the next test starts
      // a new one.
      if (context && !(await closedWithin(context.close(), CLOSE_WAIT_MS))) {
        logger.warn('a browser context did not close; restarting the browser')
        const stuck = running as LaunchedBrowser | null
        if (stuck) {
          forget(stuck)
          await stuck.close()
        }
      }
      backend?.close()
      release()
    }
  }

  async function runTest({
    test,
    files,
    backendCode,
    signal,
  }: Parameters<BrowserRunner['runTest']>[0]): Promise<BrowserTestResult> {
    const started = performance.now()
    const durationMs = () => Math.round(performance.now() - started)
    const unavailable = unavailableReason()
    if (unavailable)
      return { status: 'skip', reason: 'browser_unavailable', message: unavailable, steps: [], durationMs: 0 }
    const steps: BrowserStepResult[] = []
    let screenshot: string | undefined
    let page: OpenedPage | null = null
    try {
      const outcome = await withPage({ files, backendCode, setup: test.setup, signal }, async (opened, remainingMs) => {
        page = opened
        // Loading gets what is left of the test (a busy host may take seconds); steps get their own limit.
        await loadPage(opened.page, files, remainingMs()).catch((error: Error) => {
          throw new PageFailure('load_failed', `The page did not load: ${firstLine(error)}`)
        })
        for (const [index, step] of test.steps.entries()) {
          const result = await runStep(opened.page, step, index, Math.min(stepTimeoutMs, remainingMs()), opened.settled)
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
    async screenshot({ files, backendCode, signal }) {
      const unavailable = unavailableReason()
      if (unavailable) return { error: unavailable, reason: 'browser_unavailable' }
      try {
        return await withPage({ files, backendCode, signal }, async (opened, remainingMs) => {
          await loadPage(opened.page, files, remainingMs() / 2).catch(() => {})
          const dataUrl = await takeScreenshot(opened.page, config, Math.max(0, remainingMs()))
          return dataUrl
            ? { dataUrl }
            : { error: 'The screenshot is larger than allowed', reason: 'screenshot_too_large' }
        })
      } catch (error) {
        if (error instanceof TestTimeout) return { error: 'The page did not settle in time', reason: 'timeout' }
        if (error instanceof Unavailable) return { error: error.message, reason: 'browser_unavailable' }
        return { error: `The browser failed: ${firstLine(error as Error)}`, reason: 'browser_error' }
      }
    },
    async health() {
      if (found && version === null) version = await (installedVersion ??= readVersion(config.BROWSER_PATH))
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
          ...slots.stats(),
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
    },
  }
}
