/**
 * testApp(): the app as clients see it, with only the services a test needs made real. Everything else is an
 * inert fake that spawns nothing (a runner or server manager that refuses with 503), so a test of the tasks
 * routes never leaves sandboxes, pools or cgroups behind. Every app made at a file's top level is closed after
 * that file's tests.
 *
 * @example
 * const app = testApp({ real: ['runner'], config: { EXEC_TIMEOUT_MS: '2000' } })
 */
import { afterAll } from 'bun:test'
import { closeServices, createApp, type AppDeps } from '../../src/app'
import type { ConfigKey } from '../../src/config'
import { AppError } from '../../src/errors'
import type { CodeRunner } from '../../src/execution/runner'
import { createLogger } from '../../src/logging'
import { createSandbox, type Sandbox } from '../../src/sandbox'
import { probePython, type SandboxProbe } from '../../src/sandbox/probe'
import type { ServerManager } from '../../src/servers/manager'
import type { BrowserRunner } from '../../src/browser'
import { testConfig } from './config'

type Real = 'runner' | 'servers' | 'browser'

export interface TestAppOptions extends Omit<AppDeps, 'config'> {
  config?: Partial<Record<ConfigKey, string>>
  /** Services built for real from the configuration (both share one real sandbox). */
  real?: Real[]
}

const refuse = (what: string) => () => {
  throw new AppError('not_in_this_test', 503, `${what} is not part of this test`)
}

/** A runner that runs nothing. */
export const inertRunner = (): CodeRunner => ({
  method: 'local_sandbox',
  run: async () => refuse('The code runner')(),
  health: () => ({}),
  close() {},
})

/** A server manager that starts nothing. */
export const inertServers = (): ServerManager => ({
  start: async () => refuse('Python servers')(),
  stop: async () => refuse('Python servers')(),
  whenStopped: async () => refuse('Python servers')(),
  output: refuse('Python servers'),
  list: () => [],
  health: () => ({}),
  close() {},
})

/** A browser runner that starts no Chromium: every test is skipped as if none were installed. */
export const inertBrowser = (): BrowserRunner => ({
  available: () => false,
  runTest: async () => ({
    status: 'skip',
    reason: 'browser_unavailable',
    message: 'The browser is not part of this test',
    steps: [],
    durationMs: 0,
  }),
  screenshot: async () => ({ error: 'The browser is not part of this test', reason: 'browser_unavailable' }),
  health: () => ({}),
  close() {},
})

export function testApp({ config: overrides = {}, real = [], ...deps }: TestAppOptions = {}) {
  const config = testConfig(overrides)
  const app = createApp({
    config,
    ...(real.includes('runner') ? {} : { runner: inertRunner() }),
    ...(real.includes('servers') ? {} : { servers: inertServers() }),
    ...(real.includes('browser') ? {} : { browser: inertBrowser() }),
    ...deps,
  })
  try {
    afterAll(() => closeServices(app.decorator.services))
  } catch {
    // made inside a test: the test closes it
  }
  return app
}

const NO_BWRAP: SandboxProbe = { available: false, version: null, reason: 'bubblewrap (bwrap) is not installed' }

/** The real sandbox service on a host where bubblewrap is missing (the unsandboxed and refusing modes). */
export function sandboxWithoutBwrap(
  overrides: Partial<Record<ConfigKey, string>> = {},
  logger = createLogger('silent'),
): Sandbox {
  const config = testConfig(overrides)
  return createSandbox({
    config,
    logger,
    probes: () => Promise.all([probePython(config.PYTHON_BIN), Promise.resolve(NO_BWRAP)]),
  })
}
