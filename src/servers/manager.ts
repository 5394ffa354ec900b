/**
 * Deprecated "Python servers": long-running learner programs reachable on a loopback port. Each runs in the
 * same kind of sandbox as executions, network namespace included; the backend owns 127.0.0.1:<port> and relays
 * every connection to a Unix socket the sandbox shares (see serve.py). Limits: a port range, a count, a
 * lifetime, and a bounded tail of output.
 */
import { mkdtempSync, chmodSync, rmSync } from 'node:fs'
import { createServer, connect, type Server as NetServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Config } from '../config'
import { AppError } from '../errors'
import type { Logger } from '../logging'
import type { Service } from '../services'
// Embedded in the compiled binary; never read from the project folder at run time.
import serveSource from './serve.py' with { type: 'text' }

export type ServerStatus = 'running' | 'stopped'

export interface ServerInfo {
  port: number
  processId: number
  status: ServerStatus
  startTime: string
  stopTime: string | null
  exitCode: number | null
  sandboxed: boolean
  output_tail: string
}

export interface ServerManager extends Service {
  start(code: string, port: number): Promise<ServerInfo>
  stop(port: number): Promise<ServerInfo>
  list(): ServerInfo[]
}

const OUTPUT_TAIL_BYTES = 64 * 1024
const KEEP_STOPPED = 20
const RELAY_DIR = '/run/relay'

/** Keeps the last `limit` characters of a stream. */
class Tail {
  private text = ''
  constructor(private readonly limit: number) {}
  push(chunk: string) {
    this.text = (this.text + chunk).slice(-this.limit)
  }
  toString() {
    return this.text
  }
}

interface Running {
  info: Omit<ServerInfo, 'output_tail'>
  tail: Tail
  proc: Bun.Subprocess
  listener: NetServer | null
  dir: string
  timer: Timer
  exited: Promise<number>
  finished?: Promise<void>
}

export interface ServerManagerOptions {
  config: Config
  logger: Logger
  /** Whether bubblewrap can be used (from the start-up probe). */
  sandbox: () => Promise<boolean>
}

function listen(port: number, relayTo: string): Promise<NetServer> {
  const server = createServer((client) => {
    const upstream = connect(relayTo)
    client.pipe(upstream).pipe(client)
    const end = () => (client.destroy(), upstream.destroy())
    client.on('error', end)
    upstream.on('error', end)
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => resolve(server))
  })
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer()
    probe.once('error', () => resolve(false))
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)))
  })
}

function bwrapArgs(config: Config, dir: string): string[] {
  // Same confinement as executions: nothing of the host but /usr read-only, no network, no capabilities,
  // an unprivileged uid, a size-limited /tmp, and only the relay folder shared (for its Unix socket).
  return [
    'bwrap', '--unshare-all', '--die-with-parent', '--new-session', '--cap-drop', 'ALL',
    '--uid', '65534', '--gid', '65534',
    '--ro-bind', '/usr', '/usr', '--symlink', 'usr/lib', '/lib', '--symlink', 'usr/lib64', '/lib64',
    '--symlink', 'usr/bin', '/bin', '--proc', '/proc', '--dev', '/dev',
    '--size', String(config.EXEC_TMPFS_MB * 1024 * 1024), '--tmpfs', '/tmp',
    '--bind', dir, RELAY_DIR, '--chdir', '/tmp',
    '--clearenv', '--setenv', 'PATH', '/usr/bin:/bin', '--setenv', 'HOME', '/tmp', '--setenv', 'LANG', 'C.UTF-8',
  ]
}

export function createServerManager({ config, logger, sandbox }: ServerManagerOptions): ServerManager {
  const servers = new Map<number, Running>()

  const view = (entry: Running): ServerInfo => ({ ...entry.info, output_tail: entry.tail.toString() })
  const running = () => [...servers.values()].filter((s) => s.info.status === 'running')

  function forgetOldStopped() {
    const stopped = [...servers.values()].filter((s) => s.info.status === 'stopped')
    for (const entry of stopped.slice(0, Math.max(0, stopped.length - KEEP_STOPPED))) servers.delete(entry.info.port)
  }

  /** Kills the server's process group and frees its port; every caller gets the same promise. */
  function finish(entry: Running): Promise<void> {
    entry.finished ??= release(entry)
    return entry.finished
  }

  async function release(entry: Running) {
    clearTimeout(entry.timer)
    try {
      process.kill(-entry.proc.pid, 'SIGKILL') // the whole process group, sandbox included
    } catch {
      entry.proc.kill('SIGKILL')
    }
    entry.info.exitCode = await entry.exited
    entry.listener?.close()
    rmSync(entry.dir, { recursive: true, force: true })
    if (entry.info.status === 'running') {
      entry.info.status = 'stopped'
      entry.info.stopTime = new Date().toISOString()
    }
  }

  async function capture(stream: ReadableStream<Uint8Array>, tail: Tail) {
    const decoder = new TextDecoder()
    for await (const chunk of stream) tail.push(decoder.decode(chunk, { stream: true }))
  }

  return {
    async start(code, port) {
      if (port < config.SERVERS_PORT_MIN || port > config.SERVERS_PORT_MAX) {
        throw new AppError(
          'port_out_of_range',
          400,
          `Port ${port} is outside the allowed range ${config.SERVERS_PORT_MIN}-${config.SERVERS_PORT_MAX}`,
        )
      }
      if (servers.get(port)?.info.status === 'running' || !(await portFree(port))) {
        throw new AppError('port_in_use', 409, `Port ${port} is already in use; stop that server or pick another port`)
      }
      if (running().length >= config.SERVERS_MAX) {
        throw new AppError('too_many_servers', 429, `At most ${config.SERVERS_MAX} Python servers may run at once`)
      }
      const sandboxed = config.SANDBOX !== 'off' && (await sandbox())
      if (!sandboxed && config.SANDBOX === 'required') {
        throw new AppError('sandbox_unavailable', 503, 'The sandbox is required but bubblewrap is not available here')
      }

      const dir = mkdtempSync(join(tmpdir(), 'tutor-srv-'))
      chmodSync(dir, 0o777) // the sandboxed uid 65534 creates the relay socket in here
      const limits = [
        String(config.EXEC_MEMORY_MB * 1024 * 1024),
        String(config.EXEC_MAX_PROCESSES),
        String(config.EXEC_OUTPUT_BYTES),
        String(config.SERVERS_LIFETIME_S + 5),
      ]
      const python = [config.PYTHON_BIN, '-I', '-S', '-c', serveSource]
      const cmd = sandboxed
        ? [...bwrapArgs(config, dir), '--setenv', 'PORT', String(port), ...python, `${RELAY_DIR}/sock`, ...limits]
        : [...python, '', ...limits]
      // bwrap is itself spawned with an (almost) empty environment: inside the sandbox its pid 1 keeps it.
      const env = sandboxed ? {} : { PATH: '/usr/bin:/bin', HOME: dir, LANG: 'C.UTF-8', PORT: String(port) }
      if (!sandboxed) logger.warn('python server runs WITHOUT a sandbox', { port })

      const proc = Bun.spawn(cmd, { env, stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', detached: true, cwd: dir })
      proc.stdin.write(code)
      proc.stdin.end()
      const tail = new Tail(OUTPUT_TAIL_BYTES)
      void capture(proc.stdout, tail)
      void capture(proc.stderr, tail)

      let listener: NetServer | null = null
      if (sandboxed) {
        try {
          listener = await listen(port, join(dir, 'sock'))
        } catch {
          proc.kill('SIGKILL')
          rmSync(dir, { recursive: true, force: true })
          throw new AppError('port_in_use', 409, `Port ${port} is already in use; stop that server or pick another port`)
        }
      }
      const entry: Running = {
        info: {
          port,
          processId: proc.pid,
          status: 'running',
          startTime: new Date().toISOString(),
          stopTime: null,
          exitCode: null,
          sandboxed,
        },
        tail,
        proc,
        listener,
        dir,
        exited: proc.exited,
        timer: setTimeout(() => {
          tail.push(`\n[stopped after the lifetime limit of ${config.SERVERS_LIFETIME_S} s]\n`)
          void finish(entry)
        }, config.SERVERS_LIFETIME_S * 1000),
      }
      servers.set(port, entry)
      // A program that ends on its own (or crashes) becomes "stopped" and frees its port.
      void entry.exited.then(() => finish(entry))
      forgetOldStopped()
      logger.info('python server started', { port, pid: proc.pid, sandboxed })
      return view(entry)
    },

    async stop(port) {
      const entry = servers.get(port)
      if (!entry || entry.info.status !== 'running') {
        throw new AppError('server_not_found', 404, `No Python server is running on port ${port}`)
      }
      await finish(entry)
      logger.info('python server stopped', { port })
      return view(entry)
    },

    list: () => [...servers.values()].map(view),

    health: () => ({
      python_servers: { ok: true, running: running().length, limit: config.SERVERS_MAX },
    }),

    async close() {
      await Promise.all(running().map(finish))
    },
  }
}
