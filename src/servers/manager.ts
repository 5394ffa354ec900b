/**
 * Deprecated "Python servers": long-running learner programs reachable on a loopback port. Each runs in the same
 * kind of sandbox as executions, network namespace included; the backend owns 127.0.0.1:<port> and relays every
 * connection to a Unix socket in that sandbox's private /tmp (relay.ts, serve.py). Limits: a port range, a count, a
 * lifetime, hard rlimits inside, and a bounded tail of output.
 */
import type { Config } from '../config'
import { AppError } from '../errors'
import type { Logger } from '../logging'
import { sandboxMemoryBytes, type Boxed, type Sandbox } from '../sandbox'
import type { Service } from '../services'
import type { PythonServer, StopReason } from './model'
import { OutputTail } from './output-tail'
import type { Listener } from './relay'
import { hostPathInSandbox, RELAY_SOCKET } from './sandbox'
// Embedded in the compiled binary; never read from the project folder at run time.
import serveSource from './serve.py' with { type: 'text' }

export type ServerInfo = PythonServer

export interface StartOutcome {
  server: ServerInfo
  /** The program listened on PORT before start returned; false if it is still starting or has ended. */
  listening: boolean
}

export interface ServerManager extends Service {
  /** Starts `code` on `port`; resolves once it listens, has ended, or `readyWaitMs` passed. */
  start(code: string, port: number): Promise<StartOutcome>
  /** Stops the running server on `port` (404 if none) and resolves when its processes are gone. */
  stop(port: number): Promise<ServerInfo>
  list(): ServerInfo[]
  /** The full output tail (64 KB) of the server on `port`, running or recently stopped; 404 if unknown. */
  output(port: number): { port: number; status: ServerInfo['status']; output_tail: string }
  /** Resolves when the server on `port` has stopped, whatever the reason; 404 if unknown. */
  whenStopped(port: number): Promise<ServerInfo>
}

export interface ServerManagerOptions {
  config: Config
  logger: Logger
  /** The sandbox every learner program runs in (shared with executions). */
  sandbox: Sandbox
  /** How long start waits for the program to listen before answering anyway. */
  readyWaitMs?: number
}

const OUTPUT_TAIL_CHARS = 64 * 1024
const LIST_TAIL_CHARS = 4 * 1024
/** Stopped servers kept in the list (and their output), oldest forgotten first. */
const KEEP_STOPPED = 10
const READY_WAIT_MS = 10_000

interface Entry {
  info: Omit<ServerInfo, 'output_tail'>
  tail: OutputTail
  box: Boxed
  proc: Boxed['proc']
  listeners: Listener[]
  timer: Timer
  /** Both output streams read to their end. */
  drained: Promise<unknown>
  finishing?: Promise<void>
  stopped: Promise<void>
  markStopped: () => void
}

const notFound = (port: number) =>
  new AppError('server_not_found', 404, `No Python server is known on port ${port}`)
const portInUse = (port: number) =>
  new AppError('port_in_use', 409, `Port ${port} is already in use; stop that server or pick another port`)

async function capture(stream: ReadableStream<Uint8Array>, tail: OutputTail) {
  const decoder = new TextDecoder()
  for await (const chunk of stream) tail.push(decoder.decode(chunk, { stream: true }))
}

export function createServerManager({ config, logger, sandbox, readyWaitMs }: ServerManagerOptions): ServerManager {
  const servers = new Map<number, Entry>()
  /** Ports between the checks and the spawn: reserved synchronously so concurrent starts cannot overshoot. */
  const starting = new Set<number>()
  let closed = false
  const waitMs = Math.min(readyWaitMs ?? READY_WAIT_MS, config.SERVERS_LIFETIME_S * 1000)

  const view = (entry: Entry, chars = LIST_TAIL_CHARS): ServerInfo => ({
    ...entry.info,
    output_tail: entry.tail.toString().slice(-chars),
  })
  const running = () => [...servers.values()].filter((entry) => entry.info.status === 'running')

  function ensureOpen() {
    if (closed) throw new AppError('shutting_down', 503, 'The server is shutting down; no new Python servers start')
  }

  function forgetOldStopped() {
    const stopped = [...servers.values()].filter((entry) => entry.info.status === 'stopped')
    for (const entry of stopped.slice(0, Math.max(0, stopped.length - KEEP_STOPPED))) servers.delete(entry.info.port)
  }

  /** Kills the server's processes and frees its port; the first reason wins, every caller gets the same promise. */
  function finish(entry: Entry, reason: StopReason): Promise<void> {
    entry.finishing ??= (async () => {
      clearTimeout(entry.timer)
      // Also after the program ended on its own: unsandboxed, its children may still hold the group. Sandboxed,
      // the leader is bwrap; its death takes the sandbox's pid namespace, and so every process in it, along.
      entry.box.kill()
      await entry.proc.exited
      // The pipes close when the last process holding them dies. Sandboxed, that is now (nothing outlives the
      // pid namespace); unsandboxed, a child that left the process group may keep them open, so wait a second.
      let drainTimer: Timer | undefined
      const bound = new Promise((resolve) => (drainTimer = setTimeout(resolve, 1000)))
      await Promise.race(entry.info.sandboxed ? [entry.drained] : [entry.drained, bound])
      clearTimeout(drainTimer)
      for (const listener of entry.listeners) listener.close()
      entry.box.release()
      Object.assign(entry.info, {
        status: 'stopped',
        stopTime: new Date().toISOString(),
        stopReason: reason,
        exitCode: reason === 'exited' ? entry.proc.exitCode : null,
      })
      forgetOldStopped()
      entry.markStopped()
      logger.info('python server stopped', { port: entry.info.port, reason, exit_code: entry.info.exitCode })
    })()
    return entry.finishing
  }

  /** Claims the port, then spawns; undoes the claim if anything fails. */
  async function launch(code: string, port: number): Promise<{ entry: Entry; ready: Promise<void> }> {
    const { sandboxed } = await sandbox.requireUsable()
    ensureOpen()
    // node:net is loaded on the first start, not with the server (start-up goal: /health < 300 ms).
    const { listenRelay, portIsFree, watchReady } = await import('./relay')
    const listeners: Listener[] = []
    let bwrapPid: number | undefined
    let relayTarget: string | null = null
    // Resolved on the first connection after the sandbox exists; serve.py binds the socket before any learner
    // code runs, so a connection that comes too early is refused like a port nobody listens on yet.
    const target = () => (relayTarget ??= bwrapPid ? hostPathInSandbox(bwrapPid, RELAY_SOCKET) : null)
    try {
      if (sandboxed) {
        const relay = await listenRelay(port, target).catch((error) => {
          throw error?.code === 'EADDRINUSE' ? portInUse(port) : error
        })
        listeners.push(relay)
      } else if (!(await portIsFree(port))) {
        throw portInUse(port)
      }
      ensureOpen() // close() may have run meanwhile; from here to servers.set nothing awaits
      const launched = spawn(code, port, sandboxed, listeners, watchReady)
      bwrapPid = launched.entry.proc.pid
      return launched
    } catch (error) {
      for (const listener of listeners) listener.close()
      throw error
    }
  }

  function spawn(
    code: string,
    port: number,
    sandboxed: boolean,
    listeners: Listener[],
    watchReady: typeof import('./relay').watchReady,
  ) {
    const limits = [
      config.EXEC_MEMORY_MB * 1024 * 1024,
      config.EXEC_MAX_PROCESSES,
      config.EXEC_OUTPUT_BYTES,
      config.SERVERS_LIFETIME_S + 5, // CPU seconds: a backstop behind the wall-clock lifetime timer
    ].map(String)
    const python = [config.PYTHON_BIN, '-I', '-S', '-u', '-c', serveSource]
    if (!sandboxed) logger.warn('python server runs WITHOUT a sandbox', { port })
    // fd 3 of the child is the ready channel (see serve.py).
    const box = sandbox.spawn([...python, sandboxed ? RELAY_SOCKET : '', ...limits], {
      memoryBytes: sandboxMemoryBytes(config),
      env: { PORT: String(port) },
      fds: 1,
    })
    const proc = box.proc
    const { ready } = watchReady(proc.stdio[3] as number)
    proc.stdin.write(code)
    void proc.stdin.end()
    const tail = new OutputTail(OUTPUT_TAIL_CHARS)
    const drained = Promise.all([capture(proc.stdout, tail), capture(proc.stderr, tail)]).catch(() => {})

    let markStopped!: () => void
    const entry: Entry = {
      info: {
        port,
        processId: proc.pid,
        status: 'running',
        startTime: new Date().toISOString(),
        stopTime: null,
        stopReason: null,
        exitCode: null,
        sandboxed,
      },
      tail,
      drained,
      box,
      proc,
      listeners,
      stopped: new Promise<void>((resolve) => (markStopped = resolve)),
      markStopped,
      timer: setTimeout(() => {
        tail.push(`\n[stopped: lifetime limit of ${config.SERVERS_LIFETIME_S} s reached]\n`)
        void finish(entry, 'lifetime')
      }, config.SERVERS_LIFETIME_S * 1000),
    }
    entry.markStopped = markStopped
    servers.delete(port) // a stopped entry on the same port is replaced, and moves to the end of the list
    servers.set(port, entry)
    void proc.exited.then(() => finish(entry, 'exited'))
    logger.info('python server started', { port, pid: proc.pid, sandboxed })
    return { entry, ready }
  }

  return {
    async start(code, port) {
      ensureOpen()
      if (port < config.SERVERS_PORT_MIN || port > config.SERVERS_PORT_MAX) {
        throw new AppError(
          'port_out_of_range',
          400,
          `Port ${port} is outside the allowed range ${config.SERVERS_PORT_MIN}-${config.SERVERS_PORT_MAX}`,
        )
      }
      if (starting.has(port) || servers.get(port)?.info.status === 'running') throw portInUse(port)
      if (config.SERVERS_MAX === 0) {
        throw new AppError('servers_disabled', 503, 'Python servers are disabled here (SERVERS_MAX=0)')
      }
      if (running().length + starting.size >= config.SERVERS_MAX) {
        throw new AppError(
          'too_many_servers',
          429,
          `At most ${config.SERVERS_MAX} Python servers may run at once; stop one first`,
        )
      }
      starting.add(port)
      let launched: Awaited<ReturnType<typeof launch>>
      try {
        launched = await launch(code, port)
      } finally {
        starting.delete(port)
      }
      const { entry, ready } = launched
      let timer: Timer | undefined
      const outcome = await Promise.race([
        ready.then(() => 'listening' as const),
        entry.stopped.then(() => 'stopped' as const),
        new Promise<'waiting'>((resolve) => (timer = setTimeout(() => resolve('waiting'), waitMs))),
      ])
      clearTimeout(timer)
      return { server: view(entry), listening: outcome === 'listening' }
    },

    async stop(port) {
      const entry = servers.get(port)
      if (!entry || entry.info.status !== 'running') {
        throw new AppError('server_not_found', 404, `No Python server is running on port ${port}`)
      }
      await finish(entry, 'stopped')
      return view(entry)
    },

    list: () => [...servers.values()].map((entry) => view(entry)),

    output(port) {
      const entry = servers.get(port)
      if (!entry) throw notFound(port)
      return { port, status: entry.info.status, output_tail: entry.tail.toString() }
    },

    async whenStopped(port) {
      const entry = servers.get(port)
      if (!entry) throw notFound(port)
      await entry.stopped
      return view(entry)
    },

    health: () => ({
      python_servers: {
        ok: true,
        running: running().length,
        limit: config.SERVERS_MAX,
        lifetime_s: config.SERVERS_LIFETIME_S,
      },
    }),

    async close() {
      closed = true
      await Promise.all(running().map((entry) => finish(entry, 'shutdown')))
    },
  }
}
