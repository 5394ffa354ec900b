/**
 * The execution harness as precompiled bytecode: compiling its ~34 KB of source from `-c` cost every sandbox start
 * about 14 ms of CPU (bench/breakdown.bench.ts). Once per server start, PYTHON_BIN itself compiles the learner
 * process's program and the scheduler's into .pyc files (its own magic number, a 12-byte header, the marshalled code
 * object), which Python runs when given one as the script path. They live in a private folder of ours (root-owned
 * when we are root, 0711: a sandbox's uid may open the files by name but neither list nor change anything there),
 * bind-mounted read-only into each sandbox, and removed on close. Without bwrap the sandbox's own uid reads them from
 * the host path; running as our own uid it could rewrite them, so src/execution/local-runner.ts then keeps the
 * source. The code objects keep the file name "<string>", as with `-c`, so tracebacks read the same. When the files
 * cannot be made, callers keep `-c` with the source.
 *
 * @example
 * const made = await compileHarness(config.PYTHON_BIN, { learner: harnessProgram, scheduler: schedulerProgram })
 * if ('error' in made) logger.warn('…', { error: made.error }) // and spawn [python, '-I', '-S', '-c', harnessProgram, …]
 * else spawn([python, '-I', '-S', made.learner, limits, made.scheduler]) // made.remove() on close
 */
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface CompiledHarness {
  /** Host path of the learner process's .pyc. */
  learner: string
  /** Host path of the scheduler's .pyc. */
  scheduler: string
  /** The host folder holding both. */
  dir: string
  remove(): void
}

/** Compiles each source (read as JSON from stdin) into <dir>/<name>.pyc, as `python -c` would compile it. */
const COMPILER = `
import sys, marshal, json, importlib.util
for name, source in json.loads(sys.stdin.read()).items():
    code = compile(source, "<string>", "exec", dont_inherit=True)
    with open(sys.argv[1] + "/" + name + ".pyc", "wb") as out:
        out.write(importlib.util.MAGIC_NUMBER + bytes(12) + marshal.dumps(code))
`

const PREFIX = 'tutor-harness-'

/** Folders made by this process and not yet removed: a runner that is never closed leaves none at exit. */
const owned = new Set<string>()

/** Removes every folder this process made (the exit hook below, and the test preload after the last test). */
export function removeOwnedHarnesses() {
  for (const dir of owned) rmSync(dir, { recursive: true, force: true })
  owned.clear()
}

process.once('exit', removeOwnedHarnesses)

/** Folders of ours left by servers that ended without close() (killed): named after a pid no longer running. */
function sweepStale(dir: string) {
  for (const name of readdirSync(dir)) {
    const pid = Number(name.slice(PREFIX.length).split('-')[0])
    if (!name.startsWith(PREFIX) || !Number.isInteger(pid) || pid === process.pid) continue
    try {
      process.kill(pid, 0)
      continue // still running (or not ours to signal): maybe still in use
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') continue
    }
    try {
      if (statSync(join(dir, name)).uid === process.getuid?.())
        rmSync(join(dir, name), { recursive: true, force: true })
    } catch {
      // gone meanwhile
    }
  }
}

/** The two programs compiled into a fresh private folder, or why that failed. */
export async function compileHarness(
  python: string,
  sources: { learner: string; scheduler: string },
): Promise<CompiledHarness | { error: string }> {
  let dir: string | undefined
  try {
    sweepStale(tmpdir())
    dir = mkdtempSync(join(tmpdir(), `${PREFIX}${process.pid}-`))
    chmodSync(dir, 0o711)
    const proc = Bun.spawn([python, '-I', '-S', '-c', COMPILER, dir], {
      stdin: new TextEncoder().encode(JSON.stringify(sources)),
      stdout: 'ignore',
      stderr: 'pipe',
      env: {},
    })
    const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()])
    if (code !== 0) throw new Error(stderr.trim().split('\n').pop() || `exit status ${code}`)
    const learner = join(dir, 'learner.pyc')
    const scheduler = join(dir, 'scheduler.pyc')
    for (const file of [learner, scheduler]) chmodSync(file, 0o644)
    const folder = dir
    owned.add(folder)
    const remove = () => {
      owned.delete(folder)
      rmSync(folder, { recursive: true, force: true })
    }
    return { learner, scheduler, dir: folder, remove }
  } catch (error) {
    if (dir) rmSync(dir, { recursive: true, force: true })
    return { error: (error as Error).message }
  }
}
