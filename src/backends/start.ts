/**
 * A learner's Python backend as a live server: serve.py runs the learner's program in the sandbox, where it
 * listens on PORT with no network of its own, and the relay (relay.ts, relay.py) owns 127.0.0.1:<port> on the
 * host and carries every connection into the sandbox over a socket pair made before the sandbox started. The
 * program says it listens on the ready channel (ready.ts); its output is kept as a bounded tail. Used by the
 * browser tests (a backend per test, on a port of the system's choice) and by the deprecated Python servers.
 *
 * The relay and the ready channel are loaded on the first start, not with the server: they bring node:net,
 * which start-up (the first /health answer) does not need.
 *
 * @example
 * const backend = await startBackend({ sandbox, python: 'python3', code, port: 0, insidePort: 8000, relay: true,
 *   maxConnections: 8, outputChars: 4096, limits })
 * await backend.ready
 * await fetch(`http://127.0.0.1:${backend.port}/add?a=1&b=2`)
 * backend.kill(); await backend.exited; backend.release()
 */
import { writeInput, type Boxed, type Sandbox } from '../sandbox'
import { pythonProgram } from '../python/program'
import { OutputTail } from './output-tail'
// Embedded in the compiled binary; never read from the project folder at run time.
import relaySource from './relay.py' with { type: 'text' }
import serveSource from './serve.py' with { type: 'text' }

/** The relay and serve.py after the shared core (@endpoint, argument conversion, rlimits), assembled once. */
const serveProgram = pythonProgram(relaySource, serveSource)

/** Hard limits inside the sandbox, set before the learner's code runs (serve.py). */
export interface BackendLimits {
  /** Address space of the program (RLIMIT_AS). */
  memoryBytes: number
  processes: number
  /** Largest file the program may write (RLIMIT_FSIZE). */
  fileBytes: number
  /** CPU seconds (RLIMIT_CPU): a backstop behind the caller's own wall-clock limit. */
  cpuSeconds: number
  /** The memory of the whole sandbox (its cgroup). */
  sandboxMemoryBytes: number
}

export interface BackendOptions {
  sandbox: Sandbox
  /** The Python interpreter. */
  python: string
  /** The learner's program. */
  code: string
  /** Where the backend is reached on the host's 127.0.0.1; 0: a free port of the system's choice. */
  port: number
  /** The port the program listens on inside the sandbox (PORT); default `port`. */
  insidePort?: number
  /**
   * true: connections come through the relay (the program is in a sandbox with no network). false: the program
   * binds the host's 127.0.0.1:`port` itself (only where no sandbox exists; the port must be free).
   */
  relay: boolean
  /** Connections carried at once; more are closed as they arrive. */
  maxConnections: number
  /** Characters of output kept (the tail). */
  outputChars: number
  limits: BackendLimits
  /** The relay closed every connection: the sandbox broke the protocol or stopped reading (`reason` says which). */
  onBroken?: (reason: string) => void
}

/** A started backend. Its processes and port are the caller's to end: kill(), then release() once it exited. */
export interface LiveBackend {
  /** Where it is reached on 127.0.0.1. */
  readonly port: number
  readonly pid: number
  /** Resolves once the program listens; never if it ends first. */
  readonly ready: Promise<void>
  /** Resolves with the exit code once its first process ended. */
  readonly exited: Promise<number>
  /** Both output streams read to their end (the program and everything it started are gone). */
  readonly drained: Promise<unknown>
  /** The last `outputChars` of stdout and stderr together. */
  readonly output: OutputTail
  exitCode(): number | null
  /** Kills every process of the backend. */
  kill(): void
  /** Closes the port and every connection, and gives the sandbox's uid and cgroup back. */
  release(): void
}

/** The port is taken: by a listener on the host, or by a program bound to it there. */
export class PortInUse extends Error {
  constructor(readonly port: number) {
    super(`Port ${port} is already in use`)
  }
}

/** Starts `code` as a live server; rejects with PortInUse when the port is taken (nothing is started then). */
export async function startBackend(options: BackendOptions): Promise<LiveBackend> {
  const [{ listenRelay }, { portIsFree, watchReady }] = await Promise.all([import('./relay'), import('./ready')])
  let relay: Awaited<ReturnType<typeof listenRelay>> | null = null
  if (options.relay) {
    relay = await listenRelay(options.port, {
      maxConnections: options.maxConnections,
      onBroken: options.onBroken,
    }).catch((error) => {
      throw error?.code === 'EADDRINUSE' ? new PortInUse(options.port) : error
    })
  } else if (!(await portIsFree(options.port))) {
    throw new PortInUse(options.port)
  }
  const { limits } = options
  const argv = [limits.memoryBytes, limits.processes, limits.fileBytes, limits.cpuSeconds].map(String)
  let box: Boxed
  try {
    // fd 3 of the child is the ready channel, fd 4 the relay channel (see serve.py, relay.py).
    box = options.sandbox.spawn(
      [options.python, '-I', '-S', '-u', '-c', serveProgram, options.relay ? 'relay' : '', ...argv],
      {
        memoryBytes: limits.sandboxMemoryBytes,
        env: { PORT: String(options.insidePort ?? options.port) },
        fds: options.relay ? 2 : 1,
      },
    )
  } catch (error) {
    relay?.close()
    throw error
  }
  const { proc } = box
  const { ready } = watchReady(proc.stdio[3] as number)
  relay?.attach(proc.stdio[4] as number)
  void writeInput(proc, options.code)
  const output = new OutputTail(options.outputChars)
  const drained = Promise.all([capture(proc.stdout, output), capture(proc.stderr, output)]).catch(() => {})
  return {
    port: relay?.port ?? options.port,
    pid: proc.pid,
    ready,
    exited: proc.exited,
    drained,
    output,
    exitCode: () => proc.exitCode,
    kill: () => box.kill(),
    release() {
      relay?.close()
      box.release()
    },
  }
}

async function capture(stream: ReadableStream<Uint8Array>, tail: OutputTail) {
  const decoder = new TextDecoder()
  for await (const chunk of stream) tail.push(decoder.decode(chunk, { stream: true }))
}
