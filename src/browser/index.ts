/**
 * Stand-in for the browser runner's port (branch h-browser builds the real one in this file): the types and
 * normalizeFrontendCode that grading is written against. Replaced wholesale when that branch is merged.
 */
import { AppError } from '../errors'
import type { Service } from '../services'
import type { InteractiveTestCase } from '../tasks/model'

export type InteractiveTest = typeof InteractiveTestCase.static

/** The learner's page: path → content, e.g. `index.html`, `style.css`, `script.js`. */
export type FrontendFiles = Record<string, string>

const LEGACY: Record<string, string> = { html: 'index.html', css: 'style.css', js: 'script.js' }

/** `{ "<path>": content }` or `{ html, css, js }` as the original IDE sends them; anything else is a 400. */
export function normalizeFrontendCode(input: unknown): FrontendFiles {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new AppError('validation_error', 400, 'frontendCode must be an object of file name → content')
  }
  const files: FrontendFiles = {}
  for (const [name, content] of Object.entries(input)) {
    if (typeof content !== 'string') throw new AppError('validation_error', 400, `frontendCode.${name} must be a string`)
    files[LEGACY[name] ?? name] = content
  }
  if (!files['index.html']) throw new AppError('validation_error', 400, 'frontendCode needs index.html (or html)')
  return files
}

export interface BrowserStepResult {
  index: number
  kind: string
  status: 'pass' | 'fail' | 'skip'
  message: string
  selector?: string
  expected?: unknown
  actual?: unknown
}

export interface BrowserTestResult {
  status: 'pass' | 'fail' | 'error' | 'skip'
  reason?: string
  message: string
  steps: BrowserStepResult[]
  durationMs: number
  screenshot?: string
}

export interface BrowserRunner extends Service {
  available(): boolean
  runTest(input: { test: InteractiveTest; files: FrontendFiles; backendCode?: string; client: string; signal?: AbortSignal }): Promise<BrowserTestResult>
  screenshot(input: {
    files: FrontendFiles
    backendCode?: string
    client: string
    signal?: AbortSignal
  }): Promise<{ dataUrl: string } | { error: string; reason: string }>
}

/** Stand-in: no browser on this server (every browser test is skipped with `browser_unavailable`). */
export function unavailableBrowserRunner(): BrowserRunner {
  const reason = { error: 'No browser is available on this server', reason: 'browser_unavailable' }
  return {
    available: () => false,
    runTest: async () => ({ status: 'skip', reason: 'browser_unavailable', message: reason.error, steps: [], durationMs: 0 }),
    screenshot: async () => reason,
    health: () => ({ browser: { ok: true, available: false } }),
    close() {},
  }
}
