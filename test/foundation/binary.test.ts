import { afterAll, describe, expect, test } from 'bun:test'
import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT, startServer } from '../support/process'

describe('the compiled binary', () => {
  const outDir = mkdtempSync(join(tmpdir(), 'tutor-bin-'))
  const binary = join(outDir, 'ai-tutor-backend')
  afterAll(() => rmSync(outDir, { recursive: true, force: true }))

  test('builds with `bun build --compile` and serves health, docs and the tasks folder next to it', async () => {
    const build = Bun.spawnSync([process.execPath, 'build', '--compile', 'src/index.ts', '--outfile', binary], {
      cwd: ROOT,
      stdout: 'pipe',
      stderr: 'pipe',
    })
    expect({ exitCode: build.exitCode, stderr: build.stderr.toString() }).toEqual({ exitCode: 0, stderr: '' })

    cpSync(join(ROOT, 'tasks'), join(outDir, 'tasks'), { recursive: true })
    // Started from another folder with TASKS_DIR unset: ./tasks is not there, so the one beside the binary is used.
    const server = startServer({ LOG_LEVEL: 'info', TASKS_DIR: '' }, [binary])
    const { url } = await server.line('listening')
    const health = await (await fetch(`${url}/health`)).json()
    expect(health.checks.python.ok).toBe(true)
    const { tasks } = await (await fetch(`${url}/tasks`)).json()
    expect(tasks.map((task: { name: string }) => task.name).sort()).toEqual([
      'Calculator App',
      'Tic Tac Toe',
      'Todo List App',
    ])
    const css = await fetch(`${url}/openapi/assets/swagger-ui.css`)
    expect(css.status).toBe(200)
    server.proc.kill('SIGTERM')
    expect(await server.proc.exited).toBe(0)
  }, 60_000)
})
