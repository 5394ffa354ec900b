/**
 * What the page knows, in one plain object, and the events views listen to: `task` (a task was opened, its
 * files are in place) and `files` (the files were reset to the starter). Edits are kept per task in
 * localStorage, by file id, so a reload keeps them.
 */
import type { TaskDetail } from './types'

export interface CodeFile {
  id: string
  name: string
  language: string
  starter: string
  content: string
}

export const state = {
  detail: undefined as TaskDetail | undefined,
  backend: undefined as CodeFile | undefined,
  frontend: [] as CodeFile[],
}

export const changes = new EventTarget()

const editsKey = (slug: string) => `playground.edits.${slug}`
const LAST_TASK = 'playground.task'

function readEdits(slug: string): Record<string, string> {
  try {
    const edits = JSON.parse(localStorage.getItem(editsKey(slug)) ?? '{}')
    return edits && typeof edits === 'object' ? edits : {}
  } catch {
    return {}
  }
}

const isBackend = (file: { name: string; language: string }) => file.language === 'python' || file.name.endsWith('.py')

/** Makes `detail` the open task, with the learner's saved edits over its starter files. */
export function openTask(detail: TaskDetail) {
  const edits = readEdits(detail.task.slug)
  const files = detail.files.map((file) => ({
    id: file.id,
    name: file.name,
    language: file.language,
    starter: file.content,
    content: typeof edits[file.id] === 'string' ? edits[file.id]! : file.content,
  }))
  state.detail = detail
  state.backend = files.find(isBackend)
  state.frontend = files.filter((file) => file !== state.backend)
  localStorage.setItem(LAST_TASK, detail.task.slug)
  changes.dispatchEvent(new Event('task'))
}

export const lastTask = () => localStorage.getItem(LAST_TASK) ?? ''

/** Records an edit of one file of the open task. */
export function edit(file: CodeFile, content: string) {
  file.content = content
  const slug = state.detail?.task.slug
  if (!slug) return
  const edits = readEdits(slug)
  if (content === file.starter) delete edits[file.id]
  else edits[file.id] = content
  try {
    localStorage.setItem(editsKey(slug), JSON.stringify(edits))
  } catch {
    // storage full or refused: the edit stays in this page only
  }
}

/** Every file of the open task back to its starter content. */
export function resetFiles() {
  const slug = state.detail?.task.slug
  if (slug) localStorage.removeItem(editsKey(slug))
  for (const file of [state.backend, ...state.frontend]) if (file) file.content = file.starter
  changes.dispatchEvent(new Event('files'))
}

export const backendCode = () => state.backend?.content ?? ''

/** The front end as the API takes it: `{ "<file name>": content }`. */
export const frontendCode = (): Record<string, string> =>
  Object.fromEntries(state.frontend.map((file) => [file.name, file.content]))
