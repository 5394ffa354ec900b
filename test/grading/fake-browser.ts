/**
 * A recording BrowserRunner for grading tests that are about grading, not about the browser: it answers each
 * test with a scripted result and records what it was asked (test, files, backend code, client, signal).
 * The browser runner itself is tested against real Chromium in test/browser.
 */
import type { BrowserRunner, BrowserTestResult, FrontendFiles, InteractiveTest } from '../../src/browser'
import { PNG } from '../judge/images'

export interface FakeBrowserCall {
  test: InteractiveTest
  files: FrontendFiles
  backendCode?: string
  client: string
  signal?: AbortSignal
  steps?: InteractiveTest['steps']
}

export interface FakeBrowserOptions {
  /** The result of a test (default: every step passes). */
  answer?: (test: InteractiveTest, signal?: AbortSignal) => BrowserTestResult | Promise<BrowserTestResult>
  available?: boolean
  /** Tests (and screenshots) at once; the rest wait their turn, as with the real runner's slots (default: no limit). */
  slots?: number
  /** What a screenshot gives (default: a small PNG), or a function of what was asked. */
  screenshot?:
    | { dataUrl: string }
    | { error: string; reason: string }
    | ((input: Parameters<BrowserRunner['screenshot']>[0]) => { dataUrl: string } | { error: string; reason: string })
}

export const passed = (test: InteractiveTest): BrowserTestResult => ({
  status: 'pass',
  message: 'Passed',
  steps: test.steps.map((step, index) => ({
    index,
    kind: 'action' in step ? step.action : step.assert,
    status: 'pass',
    message: 'ok',
  })),
  durationMs: 12.5,
})

/** Resolves only when `signal` aborts: a page that hangs until the runner is told to stop. */
export const hangs = (_: InteractiveTest, signal?: AbortSignal) =>
  new Promise<BrowserTestResult>((resolve) =>
    signal?.addEventListener('abort', () =>
      resolve({ status: 'error', reason: 'aborted', message: 'stopped', steps: [], durationMs: 1 }),
    ),
  )

export function fakeBrowser({
  answer = passed,
  available = true,
  screenshot = { dataUrl: PNG },
  slots = Number.POSITIVE_INFINITY,
}: FakeBrowserOptions = {}) {
  const calls: FakeBrowserCall[] = []
  const screenshots: Omit<FakeBrowserCall, 'test'>[] = []
  let busy = 0
  const turns: (() => void)[] = []
  /** Runs `work` in a slot, telling `onSlot` when it holds it and gives it back, as the real runner does. */
  async function inSlot<T>(onSlot: (() => () => void) | undefined, work: () => Promise<T> | T): Promise<T> {
    if (busy >= slots) await new Promise<void>((resolve) => turns.push(resolve))
    busy++
    const given = onSlot?.()
    try {
      return await work()
    } finally {
      given?.()
      busy--
      turns.shift()?.()
    }
  }
  const runner: BrowserRunner = {
    available: () => available,
    async runTest(input) {
      calls.push(input)
      return inSlot(input.onSlot, () => answer(input.test, input.signal))
    },
    async screenshot(input) {
      screenshots.push(input)
      return inSlot(input.onSlot, () => (typeof screenshot === 'function' ? screenshot(input) : screenshot))
    },
    health: () => ({}),
    close() {},
  }
  return Object.assign(runner, { calls, screenshots })
}
