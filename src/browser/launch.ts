/**
 * Starts Chromium inside the sandbox (src/sandbox: bubblewrap with every namespace unshared, so no network at all;
 * the seccomp filter; a host uid of its own; a memory, pids and CPU cgroup) and hands playwright a connection to it.
 *
 * How playwright reaches it: Chromium speaks the DevTools protocol over two pipes (`--remote-debugging-pipe`:
 * it reads fd 3, writes fd 4, messages end with NUL). playwright's launch() would spawn the process itself, outside
 * our sandbox code; instead the sandbox spawns it with two extra pipes, and a WebSocket on 127.0.0.1 with a
 * random path carries each message across for `connectOverCDP`. Measured on a 2-core host: launch to first page
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
import type { Boxed, Sandbox } from '../sandbox'

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
  /** Ends every process of the browser and its sandbox (its /tmp, with the profile, goes with it). */
  close(): Promise<void>
}

/** Longest DevTools message we pass on: a full-page screenshot is the largest, and capped well below this. */
const MAX_MESSAGE_BYTES = 64 << 20

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
  void box.proc.stdout.pipeTo(new WritableStream()).catch(() => {})
  void box.proc.stderr.pipeTo(new WritableStream()).catch(() => {})
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
        await browser.close().catch(() => {})
        box.release()
        bridge.stop()
        await exited
        removeArtifacts()
      })())
    void exited.then(() => bridge.stop())
    return { browser, version: browser.version(), exited, oomKilled: box.oomKilled, close }
  } catch (error) {
    box.release()
    bridge.stop()
    removeArtifacts()
    throw error
  }
}

/** A one-client WebSocket on 127.0.0.1 that carries DevTools messages to fd 3 and back from fd 4. */
function bridgePipes(box: Boxed): { url: string; stop(): void } {
  const toBrowser = Bun.file(box.proc.stdio[3] as unknown as number).writer()
  const token = crypto.randomUUID()
  let client: Bun.ServerWebSocket<unknown> | null = null
  let stopped = false
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch(request, server) {
      if (client || new URL(request.url).pathname !== `/${token}`) return new Response(null, { status: 404 })
      return server.upgrade(request) ? undefined : new Response(null, { status: 400 })
    },
    websocket: {
      maxPayloadLength: MAX_MESSAGE_BYTES,
      open(ws) {
        client = ws
        void pump(ws)
      },
      message(_ws, message) {
        toBrowser.write(message)
        toBrowser.write('\0')
        void toBrowser.flush()
      },
      close: () => box.kill(),
    },
  })

  async function pump(ws: Bun.ServerWebSocket<unknown>) {
    // A message is complete at a NUL byte; only each new chunk is searched, so a large one costs no rescans.
    let parts: Uint8Array[] = []
    let size = 0
    try {
      for await (let chunk of Bun.file(box.proc.stdio[4] as unknown as number).stream()) {
        let end: number
        while ((end = chunk.indexOf(0)) >= 0) {
          parts.push(chunk.subarray(0, end))
          ws.send(Buffer.concat(parts).toString('utf8'))
          parts = []
          size = 0
          chunk = chunk.subarray(end + 1)
        }
        parts.push(chunk)
        size += chunk.length
        if (size > MAX_MESSAGE_BYTES) throw new Error('DevTools message too large')
      }
    } catch {
      // the browser went away or broke the protocol: end it
    }
    box.kill()
    ws.close()
  }

  return {
    url: `ws://127.0.0.1:${server.port}/${token}`,
    stop() {
      if (stopped) return
      stopped = true
      void Promise.resolve()
        .then(() => toBrowser.end())
        .catch(() => {})
      void server.stop(true)
    },
  }
}
