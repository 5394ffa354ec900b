/**
 * The learner's front end as the browser runner serves it: a flat map of relative paths to contents. Clients send
 * either `{ "index.html": …, "style.css": …, "script.js": … }` (paths, as the editor names its files) or
 * `{ html, css, js }` (as the original IDE did); both become the first shape here.
 */
import { AppError } from '../errors'

/** Normalized: relative paths without `./`, e.g. 'index.html', 'style.css', 'script.js', 'img/logo.svg'. */
export type FrontendFiles = Record<string, string>

export const FRONTEND_MAX_FILES = 50
export const FRONTEND_MAX_BYTES = 2 << 20
const MAX_PATH = 200

/** The legacy field names and the files they become. */
const LEGACY: Record<string, string> = { html: 'index.html', css: 'style.css', js: 'script.js' }

const bad = (message: string) => new AppError('validation_error', 400, `frontendCode: ${message}`)

/**
 * @example
 * normalizeFrontendCode({ html: '<h1>Hi</h1>', js: 'alert(1)' }) // { 'index.html': '<h1>Hi</h1>', 'script.js': 'alert(1)' }
 * normalizeFrontendCode({ './index.html': '…' })                  // { 'index.html': '…' }
 */
export function normalizeFrontendCode(input: unknown): FrontendFiles {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw bad('expected an object of file paths to contents, or { html, css, js }')
  }
  const entries = Object.entries(input as Record<string, unknown>)
  if (entries.length === 0) throw bad('no files')
  if (entries.length > FRONTEND_MAX_FILES) throw bad(`at most ${FRONTEND_MAX_FILES} files`)
  const legacy = entries.every(([key]) => key in LEGACY)
  const files: FrontendFiles = {}
  let bytes = 0
  for (const [key, content] of entries) {
    if (typeof content !== 'string')
      throw bad(`the content of ${JSON.stringify(key.slice(0, MAX_PATH))} must be a string`)
    const path = legacy ? LEGACY[key]! : normalizePath(key)
    bytes += Buffer.byteLength(content)
    if (bytes > FRONTEND_MAX_BYTES) throw bad(`more than ${FRONTEND_MAX_BYTES} bytes in all`)
    if (path in files) throw bad(`${path} given twice`)
    files[path] = content
  }
  if (entryPage(files) === null) throw bad('no HTML page (index.html, or html in the { html, css, js } form)')
  return files
}

/** The page the browser opens: index.html, else the first HTML file. */
export function entryPage(files: FrontendFiles): string | null {
  if ('index.html' in files) return 'index.html'
  return Object.keys(files).find((path) => /\.html?$/i.test(path)) ?? null
}

function normalizePath(key: string): string {
  const path = key.replace(/^(\.\/|\/)+/, '')
  const segments = path.split('/')
  if (
    path.length === 0 ||
    path.length > MAX_PATH ||
    /[\\\0?#]/.test(path) ||
    segments.some((segment) => segment === '' || segment === '.' || segment === '..')
  ) {
    throw bad(`bad file path ${JSON.stringify(key.slice(0, MAX_PATH))}: a relative path inside the project`)
  }
  return path
}
