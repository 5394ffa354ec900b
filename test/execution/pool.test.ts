/**
 * The pool of waiting sandboxes: one that died while it waited (OOM killer, an operator) is never given a job.
 * A server without its Python answers 503, never a learner failure.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync, readFileSync } from 'node:fs'
import { createApp } from '../../src/app'
import { testConfig } from '../support/config'
import { post } from '../support/http'
import { liveChildren, ownZygotes } from '../support/process'

/**
 * Live sandboxes started by this test process: bwrap is our direct child (the joining shell execs into it); a warm
 * box is a child of our zygote (src/sandbox/zygote.py, told apart by its settings argument).
 */
function ownSandboxes(): number[] {
  return [
    ...liveChildren(process.pid, (cmdline) => cmdline.includes('bwrap')),
    ...ownZygotes()
      .flatMap((zygote) => liveChildren(zygote))
      .filter(waitsForJob),
  ]
}

/** A warm box blocked reading its job from stdin (a used one may still be ending, after its answer went out). */
function waitsForJob(pid: number): boolean {
  const read = process.arch === 'arm64' ? 63 : 0
  try {
    return readFileSync(`/proc/${pid}/syscall`, 'utf8').startsWith(`${read} 0x0 `)
  } catch {
    return false
  }
}

const pythonCode = '@endpoint\ndef f():\n    return 1'

describe.each(['true', 'false'])('EXEC_ZYGOTE=%s', (zygote) => {
  let before: Set<number>
  let app: ReturnType<typeof createApp>
  beforeAll(() => {
    before = new Set(ownSandboxes())
    app = createApp({ config: testConfig({ EXEC_POOL_SIZE: '1', EXEC_ZYGOTE: zygote }) })
  })
  afterAll(() => app.decorator.services.runner.close())

  test('a pooled sandbox killed while waiting is replaced, not used', async () => {
    expect((await post(app, '/api/execute-endpoint', { pythonCode, endpoint: '/f' })).body.result).toBe(1)
    // The call above took the first pooled sandbox; the refill is the one waiting now.
    let waiting = ownSandboxes().filter((pid) => !before.has(pid))
    // A warm refill is asked for during the call: until the zygote has forked it and it waits, there is none.
    while (waiting.length === 0) {
      await new Promise((resolve) => setImmediate(resolve))
      waiting = ownSandboxes().filter((pid) => !before.has(pid))
    }
    expect(waiting.length).toBe(1)
    process.kill(-waiting[0]!, 'SIGKILL')
    // Until the server has reaped it (no sleeping: each turn of the event loop lets Bun collect the exit).
    while (existsSync(`/proc/${waiting[0]}`)) await new Promise((resolve) => setImmediate(resolve))
    const { body } = await post(app, '/api/execute-endpoint', { pythonCode, endpoint: '/f' })
    expect(body).toMatchObject({ success: true, result: 1 })
  })
})

test('a missing Python is a 503 python_unavailable, not a failure of the learner code', async () => {
  const broken = createApp({ config: testConfig({ PYTHON_BIN: '/nonexistent/python3', EXEC_POOL_SIZE: '0' }) })
  const reply = await post(broken, '/api/execute-endpoint', { pythonCode, endpoint: '/f' })
  expect(reply.status).toBe(503)
  expect(reply.body.error_type).toBe('python_unavailable')
  expect(reply.body.error).not.toContain('/nonexistent') // no server paths in messages
  await broken.decorator.services.runner.close()
})
