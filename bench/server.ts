/**
 * The server under test for the benches that run it as its own process (hostile, load): a free loopback port,
 * the server started from `root` with a fixed environment, and what it holds (RSS).
 */
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { resolve } from 'node:path'
import { BENCH_UID_BASE } from './measure'

export function freePort(): number {
  const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response() })
  const port = server.port!
  server.stop(true)
  return port
}

export function rssMb(pid: number): number {
  const match = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/)
  return match ? Math.round(Number(match[1]) / 1024) : NaN
}

/** Starts `root`/src/index.ts on 127.0.0.1 with `env` on top of the basics; resolves once /health answers. */
export async function startServer(root: string, env: Record<string, string>, readyWithinMs = 15_000) {
  const port = freePort()
  const proc = Bun.spawn([process.execPath, resolve(root, 'src/index.ts')], {
    cwd: tmpdir(),
    env: {
      PATH: process.env.PATH!,
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'error',
      TASKS_DIR: resolve(root, 'tasks'),
      DATABASE_URL: 'sqlite::memory:', // never ./data of the temp folder, shared by every run on the host
      SANDBOX_UID_BASE: BENCH_UID_BASE,
      ...env,
    },
    stdout: 'ignore',
    stderr: 'inherit',
  })
  const base = `http://127.0.0.1:${port}`
  for (const started = performance.now(); ; await Bun.sleep(20)) {
    try {
      if ((await fetch(`${base}/health`, { signal: AbortSignal.timeout(readyWithinMs) })).ok) break
    } catch {
      // not listening yet
    }
    if (performance.now() - started > readyWithinMs) {
      proc.kill('SIGKILL')
      throw new Error('the server did not start')
    }
  }
  return { proc, port, base }
}

export type Server = Awaited<ReturnType<typeof startServer>>

/**
 * Polls `server`'s /health one request after another (`pauseMs` apart) until `done` settles: the latency of each
 * answer, and the server's RSS before and at its peak. Used while an attack runs.
 */
export async function pollHealth(server: Server, done: Promise<unknown>, pauseMs = 0) {
  const samples: number[] = []
  const rssBefore = rssMb(server.proc.pid)
  let rssPeak = rssBefore
  let finished = false
  const stop = () => {
    finished = true
  }
  done.then(stop, stop)
  while (!finished) {
    const asked = performance.now()
    await (await fetch(`${server.base}/health`)).arrayBuffer()
    samples.push(performance.now() - asked)
    rssPeak = Math.max(rssPeak, rssMb(server.proc.pid))
    if (pauseMs) await Bun.sleep(pauseMs)
  }
  return { samples, rssBefore, rssPeak }
}

/**
 * Probes `server`'s /health from a process of its own, one request after another (`pauseMs` apart), until
 * stop() gives back the latency of each answer. A probe in the bench's own process would also count the bench's
 * stalls (reading /proc for memory figures blocks it for tens of milliseconds).
 */
export function probeHealthApart(server: Server, pauseMs: number) {
  const code = `for (;;) {
    const asked = performance.now()
    await (await fetch(${JSON.stringify(`${server.base}/health`)})).arrayBuffer()
    console.log(performance.now() - asked)
    await Bun.sleep(${pauseMs})
  }`
  const proc = Bun.spawn([process.execPath, '-e', code], { stdout: 'pipe', stderr: 'ignore' })
  const output = new Response(proc.stdout).text()
  return {
    async stop(): Promise<number[]> {
      proc.kill()
      return (await output).split('\n').filter(Boolean).map(Number)
    },
  }
}
