/**
 * Starts Chromium inside the sandbox (src/sandbox: bubblewrap with every namespace unshared, so no network at all;
 * the seccomp filter; a host uid of its own; a memory, pids and CPU cgroup) and hands playwright a connection to it.
 *
 * How playwright reaches it: Chromium speaks the DevTools protocol over two pipes (`--remote-debugging-pipe`:
 * it reads fd 3, writes fd 4, messages end with NUL). playwright's launch() would spawn the process itself, outside
 * our sandbox code; instead the sandbox spawns it with two extra pipes, and a WebSocket on 127.0.0.1 with a
 * random path carries each message across for `connectOverCDP` (bridge.ts, which also bounds what pages send). Measured on a 2-core host: launch to first page
 * in ~0.3 s, and a 3-click test costs the same as with launch() (the bridge adds microseconds per message).
 *
 * Why `--no-sandbox`: Chromium's own sandbox needs user namespaces, which the sandbox forbids (--disable-userns
 * and the seccomp filter deny unshare). Every Chromium process is confined by our sandbox instead, the same
 * walls a learner's Python program has; the renderer gets no less than the learner's code already has.
 * Why `--host-resolver-rules`: the network namespace is the boundary (request interception is not one:
 * keepalive fetch, sendBeacon and prefetch bypass it); the rule also keeps Chromium from trying DNS at all.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import type { Sandbox } from '../sandbox'
import { bridgePipes, type BridgeStats } from './bridge'
import { closedWithin } from './within'

/** How long Chromium may take to quit when asked before it is killed. */
const QUIT_WAIT_MS = 5000

export interface LaunchOptions {
  sandbox: Sandbox
  path: string
  memoryBytes: number
  /** Size of the browser's private /tmp (profile, shared memory); counted in memoryBytes too. */
  tmpfsBytes: number
  timeoutMs: number
}

export interface LaunchedBrowser {
  browser: Browser
  version: string
  /** Resolves when the Chromium process has ended (crashed, killed for memory, or closed). */
  exited: Promise<void>
  oomKilled(): boolean
  /** Memory of the browser and all its pages now, in bytes; null where no cgroup counts it. */
  memoryUsed(): number | null
  /** What the bridge dropped of the pages' DevTools traffic (bridge.ts). */
  bridgeStats(): BridgeStats
  /** Ends every process of the browser and its sandbox (its /tmp, with the profile, goes with it). */
  close(): Promise<void>
}

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--remote-debugging-pipe',
  '--user-data-dir=/tmp/profile',
  '--disable-dev-shm-usage', // /dev is read-only in the sandbox: shared memory goes to /tmp
  '--host-resolver-rules=MAP * ~NOTFOUND',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-extensions',
  '--disable-breakpad',
  '--disable-default-apps',
  '--disable-features=Translate,MediaRouter,OptimizationHints,AutofillServerCommunication',
  '--block-new-web-contents', // window.open and popups fail at once (page.ts closes any that slip through)
  '--mute-audio',
  '--hide-scrollbars',
  'about:blank',
]

export async function launchChromium({
  sandbox,
  path,
  memoryBytes,
  tmpfsBytes,
  timeoutMs,
}: LaunchOptions): Promise<LaunchedBrowser> {
  const box = sandbox.spawn([path, ...CHROMIUM_FLAGS], {
    memoryBytes,
    tmpfsBytes,
    // Threads count as processes: an idle Chromium has ~60, each page adds a renderer with ~20.
    processes: 1024,
    fds: 2,
    readOnly: existsSync('/etc/fonts') ? ['/etc/fonts'] : [],
  })
  // Chromium logs freely (no D-Bus, no udev in here): read and drop it, or a full pipe would stall the browser.
  // Every process of the sandbox holds these two pipes (Chromium's helpers keep stderr for their logs), so their
  // end is the moment the last process of the browser is gone: what close() waits for.
  const outputEnded = Promise.all(
    [box.proc.stdout, box.proc.stderr].map((stream) => stream.pipeTo(new WritableStream()).catch(() => {})),
  )
  box.proc.stdin.end()
  const exited = box.proc.exited.then(() => {})
  const bridge = bridgePipes(box)
  // playwright's folder for downloads and traces (none happen: downloads are refused). Ours, so that it is
  // removed whatever way the browser ends; playwright's own would stay behind when the browser dies.
  const artifactsDir = mkdtempSync(join(tmpdir(), 'ai-tutor-browser-'))
  const removeArtifacts = () => rmSync(artifactsDir, { recursive: true, force: true })
  try {
    // Loaded on first use: playwright-core takes about a second to import, which server start-up need not pay.
    const { chromium } = await import('playwright-core')
    const browser = await chromium.connectOverCDP(bridge.url, { timeout: timeoutMs, artifactsDir })
    let closing: Promise<void> | undefined
    const close = () =>
      (closing ??= (async () => {
        // Asked to quit, Chromium ends its pages and exits; only a browser that does not quit in time is killed.
        // Resolves once its last process is gone (the output pipes end), whichever way it went.
        bridge.ending()
        await browser
          .newBrowserCDPSession()
          .then((session) => session.send('Browser.close'))
          .catch(() => {})
        await closedWithin(exited, QUIT_WAIT_MS)
        await browser.close().catch(() => {})
        const gone = box.release()
        bridge.stop()
        await exited
        // The pipes end as the last process closes them, a moment before it is gone: its cgroup says when it is.
        await closedWithin(outputEnded, QUIT_WAIT_MS)
        await closedWithin(gone, QUIT_WAIT_MS)
        removeArtifacts()
      })())
    void exited.then(() => bridge.stop())
    return {
      browser,
      version: browser.version(),
      exited,
      oomKilled: box.oomKilled,
      memoryUsed: box.memoryUsed,
      bridgeStats: bridge.stats,
      close,
    }
  } catch (error) {
    box.release()
    bridge.stop()
    removeArtifacts()
    throw error
  }
}
