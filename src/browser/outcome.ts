/**
 * The small pieces of the browser runner (runner.ts): how a test ends when it does not end normally, the steps it
 * did not reach, and what is known of the installed Chromium without starting it.
 */
import { accessSync, constants } from 'node:fs'
import type { BrowserStepResult, InteractiveTest } from './model'
import { stepKind } from './steps'

/** The test's own time limit passed. */
export class TestTimeout extends Error {}

/** How long closing a test's context may take before the browser is restarted instead. */
export const CLOSE_WAIT_MS = 5000

/** A test that ended early for a reason of its page (load_failed, page_crashed). */
export class PageFailure extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message)
  }
}

/** No browser can run here (no sandbox): tests are skipped, not failed. */
export class Unavailable extends Error {}

export const firstLine = (error: Error) =>
  String(error?.message ?? error)
    .split('\n')[0]!
    .slice(0, 300)

/** The steps after a failure, reported as not run. */
export function fillSkipped(test: InteractiveTest, done: BrowserStepResult[]): BrowserStepResult[] {
  const rest = test.steps.slice(done.length).map((step, offset) => ({
    index: done.length + offset,
    kind: stepKind(step),
    status: 'skip' as const,
    message: 'not run',
    ...(step.selector === undefined ? {} : { selector: step.selector }),
  }))
  return [...done, ...rest]
}

/** `chromium --version` ("Chromium 156.0.8078.114") as the version the browser reports ("156.0.8078.114"). */
export async function readVersion(path: string): Promise<string | null> {
  try {
    const proc = Bun.spawn([path, '--version'], { stdout: 'pipe', stderr: 'ignore', env: {}, timeout: 5000 })
    const text = await new Response(proc.stdout).text()
    return /(\d+\.\d+\.\d+\.\d+)/.exec(text)?.[1] ?? null
  } catch {
    return null
  }
}

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}
