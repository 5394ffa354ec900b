/**
 * Shared by the browser tests: a real browser runner on a real sandbox, made once per file and closed after it,
 * and whether Chromium is installed at all (the tests skip, saying so, where it is not).
 */
import { afterAll } from 'bun:test'
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs'
import type { ConfigKey } from '../../src/config'
import { createBrowserRunner, type BrowserRunner, type FrontendFiles, type InteractiveTest } from '../../src/browser'
import { createLogger } from '../../src/logging'
import { createSandbox, type Boxed, type Sandbox } from '../../src/sandbox'
import { testConfig } from '../support/config'

export const CHROMIUM = testConfig().BROWSER_PATH

function installed(path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** Why the browser tests of a file do not run here, or null when they do. */
export const skipReason: string | null = installed(CHROMIUM)
  ? null
  : `no Chromium at ${CHROMIUM} (apt install chromium, or set BROWSER_PATH)`

/** A test name that says why it was skipped. */
export const named = (name: string) => (skipReason ? `${name} [skipped: ${skipReason}]` : name)

type Overrides = Partial<Record<ConfigKey, string>>

/**
 * A uid range of this file's own (random, far from the default), so leftover processes of *these* sandboxes can be
 * told apart from those of other test runs on the same host.
 */
export function ownUidBase(): string {
  return String(2_000_000 + Math.floor(Math.random() * 1000) * 1000)
}

export interface RealRunner {
  runner: BrowserRunner
  sandbox: Sandbox
  uidBase: number
  close(): Promise<void>
}

/**
 * `cgroups: false`: as on a host without writable cgroups (limits by rlimit only). `onSpawn` sees every process
 * the runner starts in its sandbox (the browser, a learner's backend), as it starts.
 */
export function realRunner(
  overrides: Overrides = {},
  { cgroups = true, onSpawn }: { cgroups?: boolean; onSpawn?: (program: string[], box: Boxed) => void } = {},
): RealRunner {
  const config = testConfig({ SANDBOX_UID_BASE: ownUidBase(), BROWSER_TEST_TIMEOUT_MS: '45000', ...overrides })
  const logger = createLogger(process.env.TEST_LOG ? 'info' : 'silent')
  const sandbox = createSandbox({ config, logger, cgroups })
  if (onSpawn) {
    const spawn = sandbox.spawn.bind(sandbox)
    sandbox.spawn = (program, options) => {
      const box = spawn(program, options)
      onSpawn(program, box)
      return box
    }
  }
  const runner = createBrowserRunner({ config, logger, sandbox })
  let closing: Promise<void> | undefined
  const close = () => (closing ??= Promise.resolve(runner.close()).then(() => sandbox.close()))
  afterAll(close)
  return { runner, sandbox, uidBase: config.SANDBOX_UID_BASE, close }
}

/** A test of steps, as a task's JSON holds it. */
export const steps = (list: InteractiveTest['steps'], setup?: InteractiveTest['setup']): InteractiveTest => ({
  name: 'test',
  type: 'frontend_interactive',
  steps: list,
  ...(setup ? { setup } : {}),
})

export const page = (html: string, js?: string, css?: string): FrontendFiles => ({
  'index.html': `<!doctype html><html><head>${css ? '<link rel="stylesheet" href="style.css">' : ''}</head><body>${html}${js ? '<script src="script.js"></script>' : ''}</body></html>`,
  ...(js ? { 'script.js': js } : {}),
  ...(css ? { 'style.css': css } : {}),
})

/** Pids of live processes whose host uid is in [first, first + count). */
export function processesOfUids(first: number, count = 1000): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8')
      const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1])
      const zombie = /^State:\s+Z/m.test(status)
      if (!zombie && uid >= first && uid < first + count) pids.push(Number(entry))
    } catch {
      // gone meanwhile
    }
  }
  return pids
}

/** A loopback HTTP server that records every request it gets: proof that a page reached it (or did not). */
export function recorder() {
  const hits: string[] = []
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch(request) {
      hits.push(`${request.method} ${new URL(request.url).pathname}`)
      return new Response('reached', { headers: { 'access-control-allow-origin': '*' } })
    },
  })
  afterAll(() => server.stop(true))
  return { port: server.port, hits }
}
