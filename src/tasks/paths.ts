/**
 * Every path that comes from a client or a task file goes through here before it touches the disk. A path is
 * accepted only when it is relative, uses forward slashes, has no `..` segment, and its real path (symlinks
 * followed) is inside the root. The original backend let `/assets` and `load-test-cases` read any file.
 */
import { existsSync } from 'node:fs'
import { realpath } from 'node:fs/promises'
import { dirname, isAbsolute, join, resolve, sep } from 'node:path'

/**
 * The tasks folder: an absolute TASKS_DIR as it is; a relative one against the working directory, or, when
 * that does not exist, next to the executable (so a compiled binary finds the folder shipped beside it).
 */
export function resolveTasksDir(dir: string, cwd = process.cwd(), execDir = dirname(process.execPath)): string {
  if (isAbsolute(dir)) return dir
  const fromCwd = resolve(cwd, dir)
  if (existsSync(fromCwd)) return fromCwd
  const fromExec = resolve(execDir, dir)
  return existsSync(fromExec) ? fromExec : fromCwd
}

/**
 * The segments of a client-supplied relative path, or undefined when it could leave its root by itself:
 * absolute (`/x`, `C:x`), backslashes (a Windows separator some clients send), NUL or other control
 * characters, or any `..` segment. `.` and empty segments are dropped.
 */
export function safeSegments(path: string): string[] | undefined {
  if (path.length === 0 || path.length > 1024) return undefined
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what this refuses
  if (/[\\\u0000-\u001f]/.test(path)) return undefined
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path)) return undefined
  const segments = path.split('/').filter((s) => s !== '' && s !== '.')
  if (segments.length === 0 || segments.includes('..')) return undefined
  return segments
}

export const isInside = (root: string, real: string) => real === root || real.startsWith(root + sep)

export type Resolved = { ok: true; path: string } | { ok: false; reason: 'outside' | 'missing' }

/**
 * Resolves `path` against `root` (itself a real path) and follows symlinks. `outside` covers both a path that
 * is unsafe as written and one whose real path leaves the root; `missing` means it is safe but not there.
 */
export async function resolveInside(root: string, path: string): Promise<Resolved> {
  const segments = safeSegments(path)
  if (!segments) return { ok: false, reason: 'outside' }
  let real: string
  try {
    real = await realpath(join(root, ...segments))
  } catch {
    return { ok: false, reason: 'missing' }
  }
  return isInside(root, real) ? { ok: true, path: real } : { ok: false, reason: 'outside' }
}

/** A problem of one task's files; its message names relative paths only. */
export class TaskProblem extends Error {}

/** A path named in a task file, resolved inside the task folder, or a TaskProblem saying why not. */
export async function taskPath(dir: string, path: string, what: string): Promise<string> {
  const resolved = await resolveInside(dir, path)
  if (resolved.ok) return resolved.path
  throw new TaskProblem(
    resolved.reason === 'outside' ? `${what} "${path}" leaves the task folder` : `${what} "${path}" does not exist`,
  )
}
