/**
 * A real redis-server for tests, on a free loopback port, nothing saved to disk. It dies with the test process
 * (setpriv --pdeathsig) even when the test run is killed. `kill()` and `restart()` stage Redis dying and coming
 * back on the same port; `pause()` stages a Redis that accepts connections but never answers.
 *
 * @example
 * const redis = await startRedis() // undefined when redis-server is not installed: skip with the reason
 * const config = testConfig({ REDIS_URL: redis.url })
 */
import { RedisClient } from 'bun'

export const REDIS_SERVER =
  Bun.which('redis-server') ?? (Bun.which('redis-server', { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' }) || undefined)
export const NO_REDIS = 'redis-server is not installed (.ci/run installs it with apt-get)'

export interface TestRedis {
  url: string
  port: number
  /** SIGKILL; resolves once the process is gone. */
  kill(): Promise<void>
  /** A fresh, empty redis-server on the same port. */
  restart(): Promise<void>
  pause(): void
  resume(): void
  /** A command from the test's own client (to look at what the app stored). */
  send(command: string, args: string[]): Promise<unknown>
  stop(): Promise<void>
}

const SETPRIV = Bun.which('setpriv')

async function freePort(): Promise<number> {
  const probe = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const port = probe.port
  probe.stop(true)
  return port
}

/** Starts redis-server on `port`; resolves once it accepts connections, rejects with its output if it ends first. */
async function launch(port: number) {
  const args = [REDIS_SERVER!, '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']
  const proc = Bun.spawn(SETPRIV ? [SETPRIV, '--pdeathsig', 'KILL', ...args] : args, {
    stdout: 'pipe',
    stderr: 'pipe',
    stdin: 'ignore',
  })
  let output = ''
  const decoder = new TextDecoder()
  const reader = proc.stdout.getReader()
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    output += decoder.decode(read.value)
    if (output.includes('Ready to accept connections')) {
      void (async () => {
        while (!(await reader.read()).done); // keep draining so the pipe never fills
      })()
      return proc
    }
  }
  await proc.exited
  throw new Error(`redis-server did not start on port ${port}:\n${output.slice(-2000)}`)
}

export async function startRedis(): Promise<TestRedis | undefined> {
  if (!REDIS_SERVER) return undefined
  let port = 0
  let proc: Bun.Subprocess | undefined
  // Another process may take the free port between the probe and redis-server's bind: try a few.
  for (let attempt = 0; !proc; attempt++) {
    port = await freePort()
    try {
      proc = await launch(port)
    } catch (error) {
      if (attempt >= 4) throw error
    }
  }
  const url = `redis://127.0.0.1:${port}`
  let client: RedisClient | undefined
  const redis: TestRedis = {
    url,
    port,
    async kill() {
      proc!.kill('SIGKILL')
      await proc!.exited
      client?.close()
      client = undefined
    },
    async restart() {
      proc = await launch(port)
    },
    pause: () => void proc!.kill('SIGSTOP'),
    resume: () => void proc!.kill('SIGCONT'),
    async send(command, args) {
      if (!client) {
        client = new RedisClient(url, { autoReconnect: false, enableOfflineQueue: false })
        await client.connect()
      }
      return client.send(command, args)
    },
    async stop() {
      client?.close()
      proc!.kill('SIGKILL')
      await proc!.exited
    },
  }
  return redis
}
