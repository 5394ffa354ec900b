/**
 * The learner's backend for one browser test: a live backend (src/backends/start.ts, the same program as the
 * deprecated Python servers) started on the page's first request and kept for the whole test, so module state
 * carries from one call to the next as on a real server. It runs in the sandbox with no network; requests reach
 * it through the relay on an ephemeral loopback port, never from the browser, whose own network namespace has no
 * route anywhere: the page's request is intercepted and answered from here (page.ts).
 */
import { startBackend, type LiveBackend } from '../backends/start'
import { sandboxMemoryBytes, type Sandbox, type SandboxLimitSettings } from '../sandbox'

/** The settings this module reads (src/config.ts documents each). */
export interface BackendSettings extends SandboxLimitSettings {
  EXEC_MAX_PROCESSES: number
  EXEC_MEMORY_MB: number
  EXEC_OUTPUT_BYTES: number
  PYTHON_BIN: string
}

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

export function createBackend(config: BackendSettings, sandbox: Sandbox, code: string, timeoutMs: number): Backend {
  let started: Promise<LiveBackend> | undefined
  let closed = false

  async function start() {
    const backend = await startBackend({
      sandbox,
      python: config.PYTHON_BIN,
      code,
      port: 0,
      insidePort: INNER_PORT,
      relay: true,
      maxConnections: 8,
      outputChars: 4096,
      limits: {
        memoryBytes: config.EXEC_MEMORY_MB * 1024 * 1024,
        processes: config.EXEC_MAX_PROCESSES,
        fileBytes: config.EXEC_OUTPUT_BYTES,
        cpuSeconds: 60,
        sandboxMemoryBytes: sandboxMemoryBytes(config),
      },
    })
    if (closed) backend.release()
    let timer: Timer | undefined
    const gaveUp = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)))
    const outcome = await Promise.race([
      backend.ready.then(() => 'ready' as const),
      backend.exited.then(() => 'exited' as const),
      gaveUp,
    ])
    clearTimeout(timer)
    if (outcome !== 'ready') {
      backend.release()
      const tail = backend.output.toString().trim().slice(-1000)
      throw new Error(
        outcome === 'timeout' ? 'the backend did not start in time' : `the backend ended: ${tail || 'no output'}`,
      )
    }
    return backend
  }

  return {
    async call({ method, path, contentType, body }) {
      let backend: LiveBackend
      try {
        backend = await (started ??= start())
      } catch (error) {
        return plain(502, `Backend not running: ${(error as Error).message}`)
      }
      try {
        const response = await fetch(`http://127.0.0.1:${backend.port}${path}`, {
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
