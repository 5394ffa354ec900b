/**
 * Runs a small Python program in the real sandbox (src/sandbox) and hands back what it printed: the tests of
 * test/sandbox/ look at the sandbox itself, without the execution harness in between.
 */
import { afterAll } from 'bun:test'
import type { ConfigKey } from '../../src/config'
import { createLogger } from '../../src/logging'
import { createSandbox, type Boxed, type SpawnOptions } from '../../src/sandbox'
import { testConfig } from '../support/config'

/** A real sandbox service from test settings, closed after the file's tests. */
export async function realSandbox(overrides: Partial<Record<ConfigKey, string>> = {}, { cgroups = true } = {}) {
  const config = testConfig(overrides)
  const sandbox = createSandbox({ config, logger: createLogger('silent'), cgroups })
  afterAll(() => sandbox.close())
  const state = await sandbox.ready()
  return { config, sandbox, state }
}

type Sandbox = Awaited<ReturnType<typeof realSandbox>>['sandbox']

/** Starts `source` with `python3 -I -S -c`; the caller reads, writes and releases. */
export function startPython(
  sandbox: Sandbox,
  source: string,
  args: string[] = [],
  options: Partial<SpawnOptions> = {},
): Boxed {
  return sandbox.spawn(['/usr/bin/python3', '-I', '-S', '-c', source, ...args], { memoryBytes: 256 << 20, ...options })
}

/** Runs `source` to its end and parses the last line it printed as JSON. */
export async function runPython(
  sandbox: Sandbox,
  source: string,
  args: string[] = [],
  options: Partial<SpawnOptions> = {},
) {
  const box = startPython(sandbox, source, args, options)
  box.proc.stdin.end()
  const [stdout, stderr] = await Promise.all([
    new Response(box.proc.stdout).text(),
    new Response(box.proc.stderr).text(),
    box.proc.exited,
  ])
  box.release()
  const last = stdout.trim().split('\n').at(-1)
  if (!last) throw new Error(`no output; stderr: ${stderr}`)
  return JSON.parse(last)
}

/** Reads lines from a sandbox's stdout as they come. */
export function lines(box: Boxed): () => Promise<string> {
  const reader = box.proc.stdout.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ''
  return async () => {
    for (;;) {
      const newline = buffer.indexOf('\n')
      if (newline >= 0) {
        const line = buffer.slice(0, newline)
        buffer = buffer.slice(newline + 1)
        return line
      }
      const { value, done } = await reader.read()
      if (done) throw new Error(`stdout ended; last text: ${buffer}`)
      buffer += value
    }
  }
}
