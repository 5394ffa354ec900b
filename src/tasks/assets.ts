/**
 * Which files `/assets` may serve. Only files a page needs (images, styles, scripts, HTML, fonts, media) are
 * served; `.json` and `.py` never are, so task.json, test files (with private tests and expected values) and
 * reference solutions stay on the server. Dot-files and dot-folders (`.env`, `.git`) are never served either,
 * nor a task's `reference/` folder: its reference front end is the answer to the task's browser tests.
 */
import { extname } from 'node:path'
import { IMAGE_TYPES } from './images'

/** `<task>/reference/`: the reference front end, read by tests only. */
export const REFERENCE_FOLDER = 'reference'

export const ASSET_TYPES: Record<string, string> = {
  ...IMAGE_TYPES,
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.otf': 'font/otf',
  '.mp3': 'audio/mpeg',
  '.wav': 'audio/wav',
  '.ogg': 'audio/ogg',
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
}

/** The content type to serve `relativePath` with, or undefined when it must not be served. */
export function assetType(relativePath: string): string | undefined {
  const segments = relativePath.split('/')
  if (segments.some((s) => s.startsWith('.'))) return undefined
  if (segments[1] === REFERENCE_FOLDER) return undefined
  return ASSET_TYPES[extname(relativePath).toLowerCase()]
}
