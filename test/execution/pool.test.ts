/**
 * The pool of waiting sandboxes: one that died while it waited (OOM killer, an operator) is never given a job.
 * A server without its Python answers 503, never a learner failure.
 */
import { afterAll, expect, test } from 'bun:test'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { createApp } from '../../src/app'
import { testConfig } from '../support/config'
import { post } from '../support/http'

/** Live sandboxes started by this test process (bwrap is our direct child: the joining shell execs into it). */
function ownSandboxes(): number[] {
  return readdirSync('/proc')
    .filter((pid) => /^\d+$/.test(pid))
    .filter((pid) => {
      try {
        const status = readFileSync(`/proc/${pid}/status`, 'utf8')
        return (
          status.includes(`\nPPid:\t${process.pid}\n`) &&
          !status.includes('State:\tZ') &&
          readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('bwrap')
        )
      } catch {
        return false
      }
    })
    .map(Number)
}

const before = new Set(ownSandboxes())
const app = createApp({ config: testConfig({ EXEC_POOL_SIZE: '1' }) })
afterAll(() => app.decorator.services.runner.close())
const pythonCode = '@endpoint\ndef f():\n    return 1'

test('a pooled sandbox killed while waiting is replaced, not used', async () => {
  expect((await post(app, '/api/execute-endpoint', { pythonCode, endpoint: '/f' })).body.result).toBe(1)
  // The call above took the first pooled sandbox; the refill is the one waiting now.
  const waiting = ownSandboxes().filter((pid) => !before.has(pid))
  expect(waiting.length).toBe(1)
  process.kill(-waiting[0]!, 'SIGKILL')
  // Until the server has reaped it (no sleeping: each turn of the event loop lets Bun collect the exit).
  while (existsSync(`/proc/${waiting[0]}`)) await new Promise((resolve) => setImmediate(resolve))
  const { body } = await post(app, '/api/execute-endpoint', { pythonCode, endpoint: '/f' })
  expect(body).toMatchObject({ success: true, result: 1 })
})

test('a missing Python is a 503 python_unavailable, not a failure of the learner code', async () => {
  const broken = createApp({ config: testConfig({ PYTHON_BIN: '/nonexistent/python3', EXEC_POOL_SIZE: '0' }) })
  const reply = await post(broken, '/api/execute-endpoint', { pythonCode, endpoint: '/f' })
  expect(reply.status).toBe(503)
  expect(reply.body.error_type).toBe('python_unavailable')
  expect(reply.body.error).not.toContain('/nonexistent') // no server paths in messages
  await broken.decorator.services.runner.close()
})
