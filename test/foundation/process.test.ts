import { describe, expect, test } from 'bun:test'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ownCgroups } from '../../src/sandbox/cgroup'
import { startServer } from '../support/process'

/** Folders named after `pid` where this host's sandbox cgroups live (none if the host has no writable cgroups). */
function cgroupFoldersOf(pid: number): string[] {
  const own = ownCgroups(readFileSync('/proc/self/cgroup', 'utf8'))
  const places = [
    own.memory !== undefined ? join('/sys/fs/cgroup/memory', own.memory) : null,
    own.v2 !== undefined ? join('/sys/fs/cgroup', own.v2, '..') : null,
  ]
  return places.flatMap((place) => {
    try {
      return place ? readdirSync(place).filter((name) => name.startsWith(`ai-tutor-sandboxes-${pid}-`)) : []
    } catch {
      return []
    }
  })
}

describe('the server process', () => {
  test('starts with no AI key, answers /health, and stops cleanly on SIGTERM', async () => {
    const server = startServer({ LOG_LEVEL: 'info', EXEC_POOL_SIZE: '2' })
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
    // The pool's sandboxes and their cgroups went with it.
    expect(cgroupFoldersOf(server.proc.pid)).toEqual([])
  })

  test('refuses to start with a bad setting and names the variable', async () => {
    const server = startServer({ PORT: 'not-a-port', SANDBOX: 'sometimes' })
    expect(await server.proc.exited).toBe(2)
    const stderr = await server.stderr()
    expect(stderr).toContain('PORT must be an integer')
    expect(stderr).toContain('SANDBOX must be one of auto, required, off')
  })
})
