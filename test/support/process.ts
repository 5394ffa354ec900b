/**
 * Starting the real server as a child process and reading its JSON log lines as they come; finding the
 * processes a test's own sandboxes left in /proc.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { resolve } from 'node:path'

export const ROOT = resolve(import.meta.dir, '../..')

export interface ServerProcess {
  proc: Bun.Subprocess<'ignore', 'pipe', 'pipe'>
  /** Resolves with the first log line whose `msg` matches (rejects if the process ends first). */
  line(msg: string): Promise<Record<string, unknown>>
  stderr(): Promise<string>
}

/**
 * Starts `cmd` (default: `bun src/index.ts`) from a temp folder so no developer `.env` is picked up, with
 * only the given environment (an in-memory database unless `env` names one).
 */
export function startServer(env: Record<string, string>, cmd = [process.execPath, resolve(ROOT, 'src/index.ts')]) {
  const proc = Bun.spawn(cmd, {
    cwd: tmpdir(),
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOST: '127.0.0.1',
      PORT: '0',
      TASKS_DIR: resolve(ROOT, 'tasks'),
      // Never ./data of the temp folder, which every run on the host would share.
      DATABASE_URL: 'sqlite::memory:',
      ...env,
    },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const lines: Record<string, unknown>[] = []
  const waiters: { msg: string; resolve: (line: Record<string, unknown>) => void }[] = []
  const done = (async () => {
    let buffer = ''
    for await (const chunk of proc.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += chunk
      let newline: number
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const text = buffer.slice(0, newline)
        buffer = buffer.slice(newline + 1)
        let line: Record<string, unknown>
        try {
          line = JSON.parse(text)
        } catch {
          continue
        }
        lines.push(line)
        for (const waiter of waiters.filter((w) => w.msg === line.msg)) waiter.resolve(line)
      }
    }
  })()
  const stderrText = new Response(proc.stderr).text()
  return {
    proc,
    line: (msg: string) =>
      new Promise<Record<string, unknown>>((resolveLine, reject) => {
        const seen = lines.find((l) => l.msg === msg)
        if (seen) return resolveLine(seen)
        waiters.push({ msg, resolve: resolveLine })
        done.then(() => reject(new Error(`process ended before logging "${msg}"`)))
      }),
    stderr: () => stderrText,
  } satisfies ServerProcess
}

/** Live (not zombie) children of `parent` whose command line passes `command`, from /proc. */
export function liveChildren(parent: number, command: (cmdline: string) => boolean = () => true): number[] {
  return readdirSync('/proc')
    .filter((pid) => /^\d+$/.test(pid))
    .filter((pid) => {
      try {
        const status = readFileSync(`/proc/${pid}/status`, 'utf8')
        return (
          status.includes(`\nPPid:\t${parent}\n`) &&
          !status.includes('State:\tZ') &&
          command(readFileSync(`/proc/${pid}/cmdline`, 'utf8'))
        )
      } catch {
        return false
      }
    })
    .map(Number)
}

/** Sandbox zygotes (src/sandbox/zygote.py) started by this test process, told apart by their settings argument. */
export const ownZygotes = () => liveChildren(process.pid, (cmdline) => cmdline.includes('"stage"'))
