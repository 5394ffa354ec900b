/** Without bubblewrap: SANDBOX=off runs with rlimits and an empty environment (loudly), SANDBOX=required refuses. */
import { describe, expect, test } from 'bun:test'
import { closeServices, createApp } from '../../src/app'
import { createLogger } from '../../src/logging'
import { sandboxArgv } from '../../src/sandbox/argv'
import { sandboxWithoutBwrap } from '../support/app'
import { testConfig } from '../support/config'
import { get, post } from '../support/http'

function appWithoutBwrap(mode: 'auto' | 'required' | 'off') {
  const settings = { SANDBOX: mode, EXEC_POOL_SIZE: '1' }
  const lines: string[] = []
  const logger = createLogger('warn', (line) => lines.push(line))
  const sandbox = sandboxWithoutBwrap(settings, logger)
  const app = createApp({ config: testConfig(settings), logger, sandbox })
  const runner = { close: () => closeServices(app.decorator.services) }
  return { app, lines, runner }
}

const code =
  '@endpoint\ndef env():\n    import os, resource\n    return [sorted(os.environ), resource.getrlimit(resource.RLIMIT_AS)[1] // (1 << 20)]'

describe('without bubblewrap', () => {
  test('auto: runs with rlimits and the fixed environment, warns loudly, health says so', async () => {
    const { app, lines, runner } = appWithoutBwrap('auto')
    const { body } = await post(app, '/api/execute-endpoint', { pythonCode: code, endpoint: '/env' })
    expect(body.result).toEqual([['HOME', 'LANG', 'PATH'], 256])
    expect(lines.join('\n')).toContain('WITHOUT A SANDBOX')
    const health = await get(app, '/health')
    expect(health.body.checks.sandbox).toMatchObject({
      ok: false,
      available: false,
      warning: 'learner code runs without a sandbox',
    })
    runner.close()
  })

  test('required: 503 sandbox_unavailable', async () => {
    const { app, runner } = appWithoutBwrap('required')
    const reply = await post(app, '/api/execute-endpoint', { pythonCode: code, endpoint: '/env' })
    expect(reply.status).toBe(503)
    expect(reply.body.error_type).toBe('sandbox_unavailable')
    expect((await get(app, '/health')).body.checks.execution.ok).toBe(false)
    runner.close()
  })
})

test('the sandbox command never binds the project folder or /root and clears the environment', () => {
  const argv = sandboxArgv(['python3'], { tmpfsBytes: 1 << 20 })
  expect(argv.join(' ')).not.toContain(process.cwd())
  expect(argv).not.toContain('/root')
  expect(argv).toContain('--clearenv')
  expect(argv.slice(-2)).toEqual(['--', 'python3'])
})

test('health reports python, the sandbox, the pool and the queue', async () => {
  const app = createApp({ config: testConfig({ EXEC_POOL_SIZE: '1' }) })
  await post(app, '/api/validate-python', { pythonCode: 'x = 1' }) // waits for the probes
  const { checks } = (await get(app, '/health')).body
  expect(checks.python).toMatchObject({ ok: true, found: true })
  expect(checks.sandbox).toMatchObject({ ok: true, available: true, mode: 'auto' })
  expect(checks.execution).toMatchObject({ ok: true, mode: 'local', queue: { running: 0, waiting: 0 } })
  await closeServices(app.decorator.services)
})
