/**
 * Deprecated "Python servers": long-running learner programs reachable on a loopback port, each a live backend
 * (src/backends/start.ts: the same sandbox as executions, network namespace included, reached through the
 * relay). What is this feature's own: a server belongs to the client that started it (owner.ts), and the limits
 * on top: a port range, a count overall and per client, connections per server, a lifetime, and the list of
 * running and recently stopped servers with their output.
 */
import { PortInUse, startBackend, type LiveBackend } from '../backends/start'
import type { SandboxLimitSettings } from '../sandbox'
import { AppError } from '../errors'
import type { Logger } from '../logging'
import { sandboxMemoryBytes, type Sandbox } from '../sandbox'
import type { Service } from '../services'
import type { PythonServer, StopReason } from './model'
import { newOwner, requireOwner, type Caller, type Owner } from './owner'

/** The settings this module reads (src/config.ts documents each). */
export interface ServerManagerSettings extends SandboxLimitSettings {
  EXEC_OUTPUT_BYTES: number
  PYTHON_BIN: string
  SERVERS_LIFETIME_S: number
  SERVERS_MAX: number
  SERVERS_MAX_CONNECTIONS: number
  SERVERS_PER_CLIENT: number
  SERVERS_PORT_MAX: number
  SERVERS_PORT_MIN: number
}

export type ServerInfo = PythonServer

export interface StartOutcome {
  server: ServerInfo
  /** The program listened on PORT before start returned; false if it is still starting or has ended. */
  listening: boolean
  /** Proves ownership to stop() and output() (owner.ts). */
  token: string
}

export interface ServerManager extends Service {
  /** Starts `code` on `port` for `client`; resolves once it listens, has ended, or `readyWaitMs` passed. */
  start(code: string, port: number, client: string): Promise<StartOutcome>
  /** Stops the running server on `port` (404 if none, 403 if not the caller's) once its processes are gone. */
  stop(port: number, caller: Caller): Promise<ServerInfo>
  /** Every known server; the output tail only of those `client` started. */
  list(client: string): ServerInfo[]
  /** The full output tail (64 KB) of the caller's server on `port`, running or recently stopped; 404, 403. */
  output(port: number, caller: Caller): { port: number; status: ServerInfo['status']; output_tail: string }
  /** Resolves when the server on `port` has stopped, whatever the reason; 404 if unknown. */
  whenStopped(port: number): Promise<ServerInfo>
}

export interface ServerManagerOptions {
  config: ServerManagerSettings
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
  info: Omit<ServerInfo, 'output_tail' | 'owned'>
  owner: Owner
  backend: LiveBackend
  timer: Timer
  finishing?: Promise<void>
  stopped: Promise<void>
  markStopped: () => void
}

const portInUse = (port: number) =>
  new AppError('port_in_use', 409, `Port ${port} is already in use; stop that server or pick another port`)

export function createServerManager({ config, logger, sandbox, readyWaitMs }: ServerManagerOptions): ServerManager {
  const servers = new Map<number, Entry>()
  /**
   * Ports between the checks and the spawn, with the client starting them: reserved synchronously so concurrent
   * starts cannot overshoot either limit.
   */
  const starting = new Map<number, string>()
  let closed = false
  const waitMs = Math.min(readyWaitMs ?? READY_WAIT_MS, config.SERVERS_LIFETIME_S * 1000)

  /** What `client` may see of a server: everything of its own, no output of anyone else's. */
  const view = (entry: Entry, client: string | null): ServerInfo => {
    const owned = client === null || client === entry.owner.client
    const tail = entry.backend.output.toString().slice(-LIST_TAIL_CHARS)
    return { ...entry.info, owned, ...(owned ? { output_tail: tail } : {}) }
  }
  const running = () => [...servers.values()].filter((entry) => entry.info.status === 'running')
  const runningFor = (client: string) =>
    running().filter((entry) => entry.owner.client === client).length +
    [...starting.values()].filter((starter) => starter === client).length

  /** The entry on `port` if the caller owns it; 404 if none, 403 if someone else's. */
  function owned(port: number, caller: Caller, onlyRunning = false): Entry {
    const entry = servers.get(port)
    if (!entry || (onlyRunning && entry.info.status !== 'running')) {
      throw new AppError(
        'server_not_found',
        404,
        `No Python server is ${onlyRunning ? 'running' : 'known'} on port ${port}`,
      )
    }
    requireOwner(entry.owner, caller, port)
    return entry
  }

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
      const { backend } = entry
      backend.kill()
      await backend.exited
      // The pipes close when the last process holding them dies. Sandboxed, that is now (nothing outlives the
      // pid namespace); unsandboxed, a child that left the process group may keep them open, so wait a second.
      let drainTimer: Timer | undefined
      const bound = new Promise((resolve) => (drainTimer = setTimeout(resolve, 1000)))
      await Promise.race(entry.info.sandboxed ? [backend.drained] : [backend.drained, bound])
      clearTimeout(drainTimer)
      backend.release()
      Object.assign(entry.info, {
        status: 'stopped',
        stopTime: new Date().toISOString(),
        stopReason: reason,
        exitCode: reason === 'exited' ? backend.exitCode() : null,
      })
      forgetOldStopped()
      entry.markStopped()
      logger.info('python server stopped', { port: entry.info.port, reason, exit_code: entry.info.exitCode })
    })()
    return entry.finishing
  }

  /** Starts the backend for `owner` on `port` and lists it; the program may still be starting. */
  async function launch(code: string, port: number, owner: Owner): Promise<Entry> {
    const { sandboxed } = await sandbox.requireUsable()
    ensureOpen()
    if (!sandboxed) logger.warn('python server runs WITHOUT a sandbox', { port })
    let entry: Entry | undefined
    const backend = await startBackend({
      sandbox,
      python: config.PYTHON_BIN,
      code,
      port,
      relay: sandboxed,
      maxConnections: config.SERVERS_MAX_CONNECTIONS,
      outputChars: OUTPUT_TAIL_CHARS,
      limits: {
        memoryBytes: config.EXEC_MEMORY_MB * 1024 * 1024,
        processes: config.EXEC_MAX_PROCESSES,
        fileBytes: config.EXEC_OUTPUT_BYTES,
        cpuSeconds: config.SERVERS_LIFETIME_S + 5, // a backstop behind the wall-clock lifetime timer
        sandboxMemoryBytes: sandboxMemoryBytes(config),
      },
      onBroken(reason) {
        logger.warn('python server relay closed', { port, reason })
        entry?.backend.output.push(`\n[connections closed: ${reason}]\n`)
      },
    }).catch((error) => {
      throw error instanceof PortInUse ? portInUse(port) : error
    })
    if (closed) {
      // close() ran while it started: it never joins the list, so nothing else would end it.
      backend.kill()
      void backend.exited.then(() => backend.release())
      ensureOpen()
    }
    entry = track(backend, port, owner, sandboxed)
    return entry
  }

  /** Lists a started backend, with its lifetime timer; it is finished once its program ends. */
  function track(backend: LiveBackend, port: number, owner: Owner, sandboxed: boolean): Entry {
    let markStopped!: () => void
    const entry: Entry = {
      info: {
        port,
        processId: backend.pid,
        status: 'running',
        startTime: new Date().toISOString(),
        stopTime: null,
        stopReason: null,
        exitCode: null,
        sandboxed,
      },
      owner,
      backend,
      stopped: new Promise<void>((resolve) => (markStopped = resolve)),
      markStopped,
      timer: setTimeout(() => {
        backend.output.push(`\n[stopped: lifetime limit of ${config.SERVERS_LIFETIME_S} s reached]\n`)
        void finish(entry, 'lifetime')
      }, config.SERVERS_LIFETIME_S * 1000),
    }
    entry.markStopped = markStopped
    servers.delete(port) // a stopped entry on the same port is replaced, and moves to the end of the list
    servers.set(port, entry)
    void backend.exited.then(() => finish(entry, 'exited'))
    logger.info('python server started', { port, pid: backend.pid, sandboxed })
    return entry
  }

  return {
    async start(code, port, client) {
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
      if (runningFor(client) >= config.SERVERS_PER_CLIENT) {
        throw new AppError(
          'client_server_limit',
          429,
          `You already run ${config.SERVERS_PER_CLIENT} Python servers, the most one client may; stop one first`,
        )
      }
      starting.set(port, client)
      const owner = newOwner(client)
      let entry: Entry
      try {
        entry = await launch(code, port, owner)
      } finally {
        starting.delete(port)
      }
      let timer: Timer | undefined
      const outcome = await Promise.race([
        entry.backend.ready.then(() => 'listening' as const),
        entry.stopped.then(() => 'stopped' as const),
        new Promise<'waiting'>((resolve) => (timer = setTimeout(() => resolve('waiting'), waitMs))),
      ])
      clearTimeout(timer)
      return { server: view(entry, client), listening: outcome === 'listening', token: owner.token }
    },

    async stop(port, caller) {
      const entry = owned(port, caller, true)
      await finish(entry, 'stopped')
      return view(entry, caller.client)
    },

    list: (client) => [...servers.values()].map((entry) => view(entry, client)),

    output(port, caller) {
      const entry = owned(port, caller)
      return { port, status: entry.info.status, output_tail: entry.backend.output.toString() }
    },

    async whenStopped(port) {
      const entry = servers.get(port)
      if (!entry) throw new AppError('server_not_found', 404, `No Python server is known on port ${port}`)
      await entry.stopped
      return view(entry, null)
    },

    health: () => ({
      python_servers: {
        ok: true,
        running: running().length,
        limit: config.SERVERS_MAX,
        per_client: config.SERVERS_PER_CLIENT,
        connections_each: config.SERVERS_MAX_CONNECTIONS,
        lifetime_s: config.SERVERS_LIFETIME_S,
      },
    }),

    async close() {
      closed = true
      await Promise.all(running().map((entry) => finish(entry, 'shutdown')))
    },
  }
}
