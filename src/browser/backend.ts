/**
 * The learner's backend for one browser test: one Python process (serve.py, the same program as the deprecated
 * Python servers) started on the page's first request and kept for the whole test, so module state carries from
 * one call to the next as on a real server. It runs in the sandbox with no network; requests reach it through
 * the relay on an ephemeral loopback port (src/servers/relay.ts), never from the browser, whose own network
 * namespace has no route anywhere: the page's request is intercepted and answered from here (page.ts).
 */
import type { Config } from '../config'
import { sandboxMemoryBytes, type Sandbox } from '../sandbox'
import { pythonProgram } from '../python/program'
import { listenRelay, type Relay } from '../servers/relay'
import { watchReady } from '../servers/ready'
import { OutputTail } from '../servers/output-tail'
import relaySource from '../servers/relay.py' with { type: 'text' }
import serveSource from '../servers/serve.py' with { type: 'text' }

const serveProgram = pythonProgram(relaySource, serveSource)

/** The port the program listens on inside its own network namespace; nobody else can reach it there. */
const INNER_PORT = 8000
/** Largest answer of one backend call handed to the page. */
export const BACKEND_MAX_RESPONSE_BYTES = 1 << 20

export interface BackendAnswer {
  status: number
  contentType: string
  body: Buffer
}

export interface Backend {
  /** Sends the page's request to the learner's program; an answer that is not one becomes a 502. */
  call(request: { method: string; path: string; contentType?: string; body?: Buffer | null }): Promise<BackendAnswer>
  /** Kills the program and closes its port. */
  close(): void
}

export function createBackend(config: Config, sandbox: Sandbox, code: string, timeoutMs: number): Backend {
  let started: Promise<{ relay: Relay; release(): void; output: OutputTail }> | undefined
  let closed = false

  async function start() {
    const relay = await listenRelay(0, { maxConnections: 8 })
    const limits = [config.EXEC_MEMORY_MB * 1024 * 1024, config.EXEC_MAX_PROCESSES, config.EXEC_OUTPUT_BYTES, 60].map(
      String,
    )
    const box = sandbox.spawn([config.PYTHON_BIN, '-I', '-S', '-u', '-c', serveProgram, 'relay', ...limits], {
      memoryBytes: sandboxMemoryBytes(config),
      env: { PORT: String(INNER_PORT) },
      fds: 2,
    })
    const output = new OutputTail(4096)
    const decoder = new TextDecoder()
    for (const stream of [box.proc.stdout, box.proc.stderr]) {
      void (async () => {
        for await (const chunk of stream) output.push(decoder.decode(chunk, { stream: true }))
      })().catch(() => {})
    }
    const { ready } = watchReady(box.proc.stdio[3] as number)
    relay.attach(box.proc.stdio[4] as number)
    box.proc.stdin.write(code)
    void box.proc.stdin.end()
    const release = () => {
      relay.close()
      box.release()
    }
    if (closed) release()
    let timer: Timer | undefined
    const gaveUp = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)))
    const outcome = await Promise.race([
      ready.then(() => 'ready' as const),
      box.proc.exited.then(() => 'exited' as const),
      gaveUp,
    ])
    clearTimeout(timer)
    if (outcome !== 'ready') {
      release()
      const tail = output.toString().trim().slice(-1000)
      throw new Error(
        outcome === 'timeout' ? 'the backend did not start in time' : `the backend ended: ${tail || 'no output'}`,
      )
    }
    return { relay, release, output }
  }

  return {
    async call({ method, path, contentType, body }) {
      let backend: Awaited<ReturnType<typeof start>>
      try {
        backend = await (started ??= start())
      } catch (error) {
        return plain(502, `Backend not running: ${(error as Error).message}`)
      }
      try {
        const response = await fetch(`http://127.0.0.1:${backend.relay.port}${path}`, {
          method,
          headers: contentType ? { 'content-type': contentType } : {},
          body: body && method !== 'GET' && method !== 'HEAD' ? new Uint8Array(body) : undefined,
          signal: AbortSignal.timeout(timeoutMs),
          redirect: 'manual',
        })
        const bytes = await readBounded(response, BACKEND_MAX_RESPONSE_BYTES)
        if (bytes === null) return plain(502, `The backend answered more than ${BACKEND_MAX_RESPONSE_BYTES} bytes`)
        return {
          status: response.status,
          contentType: response.headers.get('content-type') ?? 'application/octet-stream',
          body: bytes,
        }
      } catch (error) {
        return plain(502, `The backend did not answer: ${(error as Error).message}`)
      }
    },
    close() {
      closed = true
      void started?.then(
        (backend) => backend.release(),
        () => {},
      )
    },
  }
}

const plain = (status: number, text: string): BackendAnswer => ({
  status,
  contentType: 'text/plain',
  body: Buffer.from(text),
})

async function readBounded(response: Response, limit: number): Promise<Buffer | null> {
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of response.body ?? []) {
    size += chunk.length
    if (size > limit) {
      void response.body?.cancel().catch(() => {})
      return null
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}
