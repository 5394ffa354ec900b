/**
 * No one holds the execution slots: one client's batches leave room for another client's call, a job whose
 * client left while it waited never runs, and a client that does not read its event stream holds back only its
 * own batch (until the batch's time limit), not the server's memory. Real routes, real sandbox; clients are told
 * apart by a test header through the `identify` dependency. Waiting is on observable state, never on time.
 */
import { describe, expect, test } from 'bun:test'
import { connect } from 'node:net'
import { readFileSync } from 'node:fs'
import type { ConfigKey } from '../../src/config'
import { createLocalRunner } from '../../src/execution/local-runner'
import { createQueue, queueLimits, type Queue } from '../../src/execution/queue'
import { createLogger } from '../../src/logging'
import { createSandbox, type Sandbox } from '../../src/sandbox'
import { testApp } from '../support/app'
import { testConfig } from '../support/config'

type Overrides = Partial<Record<ConfigKey, string>>

/** The real sandbox, counting the sandboxes it starts either way (one per run: no pool in tests). */
function countingSandbox(overrides: Overrides) {
  const sandbox = createSandbox({ config: testConfig(overrides), logger: createLogger('silent') })
  const { spawn, warm } = sandbox
  const counted: Sandbox & { spawned: number } = Object.assign(sandbox, {
    spawned: 0,
    spawn: (...args: Parameters<Sandbox['spawn']>) => {
      counted.spawned++
      return spawn(...args)
    },
    warm: (...args: Parameters<Sandbox['warm']>) => {
      const boxes = warm(...args)
      if (!boxes) return null
      return {
        ...boxes,
        spawn: (...limits: Parameters<typeof boxes.spawn>) => {
          counted.spawned++
          return boxes.spawn(...limits)
        },
      }
    },
  })
  return counted
}

function appFor(overrides: Overrides) {
  const sandbox = countingSandbox(overrides)
  const config = testConfig(overrides)
  // The runner's slots, watched: each change of their state wakes `until`.
  const queue = createQueue(queueLimits(config))
  const app = testApp({
    config: overrides,
    sandbox,
    runner: createLocalRunner({ config, logger: createLogger('silent'), sandbox, queue }),
    identify: (request) => request.headers.get('x-client') ?? 'anonymous',
  })
  /** Resolves once the queue shows what `check` wants, looking again at each change of its state. */
  const until = async (check: (stats: ReturnType<Queue['stats']>) => boolean) => {
    for (;;) {
      const changed = queue.whenChanged() // asked for before looking, so no change can slip between
      if (check(queue.stats())) return
      await changed
    }
  }
  const send = (client: string, path: string, body: unknown, signal?: AbortSignal, accept = 'application/json') =>
    app.handle(
      new Request(`http://localhost${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept, 'x-client': client },
        body: JSON.stringify(body),
        signal,
      }),
    )
  return { app, sandbox, until, send }
}

const sleeper = '@endpoint\ndef f():\n    import time\n    time.sleep(60)'
const quick = { pythonCode: '@endpoint\ndef f():\n    return "quick"', endpoint: '/f' }

describe('slots', () => {
  test("a client's batches cannot take every slot: another client's one-line call runs at once", async () => {
    const { send, until } = appFor({
      EXEC_CONCURRENCY: '2',
      EXEC_SLOTS_PER_CLIENT: '1',
      EXEC_TIMEOUT_MS: '20000',
      EXEC_BATCH_TIMEOUT_MS: '20000',
    })
    const batch = { backendCode: sleeper, testCases: [{ name: 'sleeps', endpoint: '/f' }] }
    const [first, second] = [new AbortController(), new AbortController()]
    await send('a', '/api/execute-test-cases', batch, first.signal, 'text/event-stream') // answered once it runs
    let secondStarted = false
    const waiting = send('a', '/api/execute-test-cases', batch, second.signal, 'text/event-stream').then((r) => {
      secondStarted = r.status === 200
      return r
    })
    await until((queue) => queue.waiting === 1)

    const reply = await send('b', '/api/execute-endpoint', quick)
    expect(await reply.json()).toMatchObject({ success: true, result: 'quick' })
    expect(secondStarted).toBe(false) // a's second batch still waits for a's own slot

    second.abort()
    first.abort()
    expect((await waiting).status).toBe(499)
    await until((queue) => queue.running === 0)
  })

  test('a job whose client disconnected while it waited never runs', async () => {
    const { send, until, sandbox } = appFor({ EXEC_CONCURRENCY: '1', EXEC_TIMEOUT_MS: '20000' })
    const [holder, leaver] = [new AbortController(), new AbortController()]
    const holding = send('a', '/api/execute-endpoint', { pythonCode: sleeper, endpoint: '/f' }, holder.signal)
    await until((queue) => queue.running === 1)
    const leaving = send('b', '/api/execute-endpoint', { pythonCode: sleeper, endpoint: '/f' }, leaver.signal)
    await until((queue) => queue.waiting === 1)
    leaver.abort()
    expect((await leaving).status).toBe(499)
    holder.abort() // the running call is stopped too: its client is gone
    await holding
    expect(await (await send('c', '/api/execute-endpoint', quick)).json()).toMatchObject({ result: 'quick' })
    expect(sandbox.spawned).toBe(2) // the holder and the last call; the one that left never started
  })
})

/** The largest the kernel lets a loopback socket's buffers grow (receive + send), from /proc. */
function socketBufferBytes(): number {
  const max = (file: string) => Number(readFileSync(file, 'utf8').trim().split(/\s+/).at(-1))
  try {
    return max('/proc/sys/net/ipv4/tcp_rmem') + max('/proc/sys/net/ipv4/tcp_wmem')
  } catch {
    return 64 << 20 // not Linux-like: assume generous buffers
  }
}

/** De-chunks a whole HTTP/1.1 response read from a raw socket; returns the body text. */
function httpBody(raw: Buffer): string {
  const text = raw.toString('latin1')
  let at = text.indexOf('\r\n\r\n') + 4
  let body = ''
  for (;;) {
    const end = text.indexOf('\r\n', at)
    const size = parseInt(text.slice(at, end), 16)
    if (!size) return Buffer.from(body, 'latin1').toString('utf8')
    body += text.slice(end + 2, end + 2 + size)
    at = end + 2 + size + 2
  }
}

describe('a client that does not read its event stream', () => {
  test('holds back only its own batch, which its time limit then ends; every case is still reported', async () => {
    const valueBytes = 4 << 20
    const cases = Math.ceil((2 * socketBufferBytes()) / valueBytes) + 3 // more than the socket can ever take
    const { app, until } = appFor({
      EXEC_RESULT_BYTES: String(8 << 20),
      EXEC_CHANNEL_BYTES: String(cases * valueBytes * 2),
      EXEC_MAX_CASES: String(cases),
      EXEC_BATCH_TIMEOUT_MS: '4000',
    })
    const server = app.listen({ hostname: '127.0.0.1', port: 0 }).server!
    const body = JSON.stringify({
      backendCode: `@endpoint\ndef big():\n    return "v" * ${valueBytes}`,
      testCases: Array.from({ length: cases }, (_, i) => ({ name: `case ${i}`, endpoint: '/big', expected: 'no' })),
    })
    const socket = connect(server.port!, '127.0.0.1')
    socket.pause() // reads nothing until the batch is over
    socket.write(
      `POST /api/execute-test-cases HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\n` +
        `Connection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    )
    await until((queue) => queue.started === 1 && queue.running === 0)
    const chunks: Buffer[] = []
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.resume()
    await new Promise((resolve) => socket.on('end', resolve))
    server.stop(true)

    const events = httpBody(Buffer.concat(chunks))
      .trim()
      .split('\n\n')
      .map((block) => block.split('\n'))
    const results = events.filter(([event]) => event === 'event: result').map(([, data]) => JSON.parse(data!.slice(6)))
    expect(results.map((r) => r.testName).sort()).toEqual(Array.from({ length: cases }, (_, i) => `case ${i}`).sort())
    const unread = results.filter((r) => r.error_type === 'timeout' && r.message.includes('ran out of time'))
    expect(unread.length).toBeGreaterThan(0) // the server stopped reading the sandbox while the client did not read
    expect(events.at(-1)![0]).toBe('event: summary')
  }, 30_000)
})
