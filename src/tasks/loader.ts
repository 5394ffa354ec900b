/**
 * Reads the tasks folder into memory: one `LoadedTask` per `<folder>/task.json`, every file checked against
 * its schema, every path resolved inside the task folder. A task with any problem is reported by folder name
 * with a message (relative paths only) and left out; the others load.
 */
import { readdir, readFile, stat } from 'node:fs/promises'
import { basename, extname, posix, relative } from 'node:path'
import { Value } from '@sinclair/typebox/value'
import type { TSchema } from '@sinclair/typebox'
import {
  BackendTestFile,
  BrowserTestFile,
  TaskManifest,
  testCaseKind,
  TITLE_PREFIX,
  type TaskFile,
  type TaskTutor,
  type Test,
  type TestKind,
} from './model'
import { resolveInside, TaskProblem, taskPath } from './paths'
import { inlineImages } from './images'

export interface LoadedTask {
  name: string
  slug: string
  summary: string
  /** Real path of the task folder. */
  dir: string
  /** Instructions HTML, images inlined. */
  description: string
  files: TaskFile[]
  /** Every test, titles prefixed by kind, in folder order (backend, frontend, html) then file name order. */
  tests: Test[]
  /** Real path of each test folder → its tests (titles prefixed). */
  testFolders: Map<string, Test[]>
  /** task.json `tutor`: how the AI tutor may help (defaults apply where unset). */
  tutor?: TaskTutor
}

export interface BrokenTask {
  folder: string
  problem: string
}

export interface TaskCatalog {
  tasks: LoadedTask[]
  broken: BrokenTask[]
  /** Set when the tasks folder itself is missing. */
  problem?: string
}

const LANGUAGES: Record<string, string> = {
  '.html': 'html',
  '.htm': 'html',
  '.css': 'css',
  '.js': 'javascript',
  '.mjs': 'javascript',
  '.ts': 'typescript',
  '.py': 'python',
  '.json': 'json',
  '.md': 'markdown',
}

export const languageOf = (file: string) => LANGUAGES[extname(file).toLowerCase()] ?? 'plaintext'

/** Schema problems as one readable line: the first few offending fields. */
function schemaProblem(schema: TSchema, value: unknown, where: string): string | undefined {
  if (Value.Check(schema, value)) return undefined
  const seen = new Set<string>()
  const issues: string[] = []
  for (const error of Value.Errors(schema, value)) {
    const path = error.path || '/'
    if (seen.has(path)) continue
    seen.add(path)
    issues.push(`${path} ${error.message}`)
    if (issues.length === 3) break
  }
  return `${where}: ${issues.join('; ')}`
}

async function readJson(path: string, shown: string): Promise<unknown> {
  const text = await readFile(path, 'utf8')
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new TaskProblem(`${shown} is not valid JSON (${(error as Error).message})`)
  }
}

async function loadTestFolder(dir: string, folder: string, kind: TestKind): Promise<{ path: string; tests: Test[] }> {
  const path = await taskPath(dir, folder, `tests.${kind}`)
  if (!(await stat(path)).isDirectory()) throw new TaskProblem(`tests.${kind} "${folder}" is not a folder`)
  const names = (await readdir(path)).filter((n) => n.endsWith('.json') && !n.startsWith('.')).sort()
  const schema = kind === 'backend' ? BackendTestFile : BrowserTestFile
  const tests: Test[] = []
  for (const name of names) {
    const shown = posix.join(folder, name)
    const real = await taskPath(dir, posix.join(folder, name), 'test file')
    const content = await readJson(real, shown)
    const problem = schemaProblem(schema, content, shown)
    if (problem) throw new TaskProblem(problem)
    const file = content as typeof BackendTestFile.static | typeof BrowserTestFile.static
    for (const test of file.tests) {
      tests.push({
        title: TITLE_PREFIX[kind] + file.title,
        ...test,
        kind: testCaseKind(test),
        public: test.public ?? true,
      })
    }
  }
  return { path, tests }
}

async function loadTask(root: string, folder: string): Promise<LoadedTask | undefined> {
  const located = await resolveInside(root, folder)
  if (!located.ok) throw new TaskProblem('the task folder leaves the tasks folder')
  const dir = located.path
  const manifestPath = await resolveInside(dir, 'task.json')
  if (!manifestPath.ok) {
    if (manifestPath.reason === 'missing') return undefined // not a task (e.g. a shared images folder)
    throw new TaskProblem('task.json leaves the task folder')
  }
  const manifest = await readJson(manifestPath.path, 'task.json')
  const problem = schemaProblem(TaskManifest, manifest, 'task.json')
  if (problem) throw new TaskProblem(problem)
  const m = manifest as TaskManifest

  if (m.slug !== undefined && m.slug !== folder) {
    throw new TaskProblem(`task.json: slug "${m.slug}" differs from the folder name`)
  }
  if (!/^[a-z0-9][a-z0-9-]*$/.test(folder)) {
    throw new TaskProblem('the folder name is not a slug (lowercase letters, digits and dashes)')
  }

  const descriptionPath = await taskPath(dir, m.description, 'description')
  const html = await readFile(descriptionPath, 'utf8')
  const description = await inlineImages(html, dir, posix.dirname(m.description))

  const files: TaskFile[] = []
  for (const entry of m.files) {
    const real = await taskPath(dir, entry.path, 'file')
    const name = entry.name ?? basename(entry.path)
    if (files.some((f) => f.name === name)) throw new TaskProblem(`two files are named "${name}"`)
    files.push({
      id: name,
      name,
      type: 'file',
      content: await readFile(real, 'utf8'),
      language: entry.language ?? languageOf(name),
    })
  }

  const testFolders = new Map<string, Test[]>()
  const tests: Test[] = []
  for (const kind of ['backend', 'frontend', 'html'] as const) {
    const folderPath = m.tests[kind]
    if (folderPath === undefined) continue
    const loaded = await loadTestFolder(dir, folderPath, kind)
    testFolders.set(loaded.path, loaded.tests)
    tests.push(...loaded.tests)
  }
  const names = new Set<string>()
  for (const test of tests) {
    if (names.has(test.name)) throw new TaskProblem(`two tests are named "${test.name}"`)
    names.add(test.name)
  }
  if (m.solution) await taskPath(dir, m.solution, 'solution')

  return {
    name: m.name,
    slug: folder,
    summary: m.summary,
    dir,
    description,
    files,
    tests,
    testFolders,
    ...(m.tutor ? { tutor: m.tutor } : {}),
  }
}

/** Loads every task under `root` (a real path). Never throws: problems end up in `broken` or `problem`. */
export async function loadTasks(root: string): Promise<TaskCatalog> {
  let entries: string[]
  try {
    entries = (await readdir(root, { withFileTypes: true }))
      .filter((e) => (e.isDirectory() || e.isSymbolicLink()) && !e.name.startsWith('.'))
      .map((e) => e.name)
      .sort()
  } catch {
    return { tasks: [], broken: [], problem: 'the tasks folder does not exist or cannot be read' }
  }
  const results = await Promise.all(
    entries.map(async (folder) => {
      try {
        return { folder, task: await loadTask(root, folder) }
      } catch (error) {
        const problem =
          error instanceof TaskProblem
            ? error.message
            : `cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`
        return { folder, problem }
      }
    }),
  )
  const catalog: TaskCatalog = { tasks: [], broken: [] }
  for (const result of results) {
    if ('problem' in result) catalog.broken.push({ folder: result.folder, problem: result.problem! })
    else if (result.task) {
      const clash = catalog.tasks.find(
        (t) => t.name.toLowerCase() === result.task!.name.toLowerCase() || t.slug === result.task!.slug,
      )
      if (clash)
        catalog.broken.push({
          folder: result.folder,
          problem: `task name "${result.task.name}" is taken by ${clash.slug}`,
        })
      else catalog.tasks.push(result.task)
    }
  }
  return catalog
}

/** A real path shown relative to the root, for messages (never an absolute server path). */
export const shownPath = (root: string, real: string) => relative(root, real).split('\\').join('/')
