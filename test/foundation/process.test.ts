import { describe, expect, test } from 'bun:test'
import { startServer } from '../support/process'

describe('the server process', () => {
  test('starts with no AI key, answers /health, and stops cleanly on SIGTERM', async () => {
    const server = startServer({ LOG_LEVEL: 'info' })
    const listening = await server.line('listening')
    const url = String(listening.url)
    const health = await fetch(`${url}/health`)
    expect(health.status).toBe(200)
    const body = await health.json()
    expect(body.checks.chat.ok).toBe(false)
    expect(body.checks.python.ok).toBe(true)

    server.proc.kill('SIGTERM')
    expect(await server.line('stopped')).toMatchObject({ level: 'info' })
    expect(await server.proc.exited).toBe(0)
    expect(fetch(`${url}/health`)).rejects.toThrow()
  })

  test('refuses to start with a bad setting and names the variable', async () => {
    const server = startServer({ PORT: 'not-a-port', SANDBOX: 'sometimes' })
    expect(await server.proc.exited).toBe(2)
    const stderr = await server.stderr()
    expect(stderr).toContain('PORT must be an integer')
    expect(stderr).toContain('SANDBOX must be one of auto, required, off')
  })
})
