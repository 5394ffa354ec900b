/**
 * Inlines the images of an instructions page: every `<img src="relative/path">` becomes a `data:` URL, so the
 * client can show the HTML without asking for assets. Absolute URLs (`https:`, `data:`, `/...`) stay as they are.
 */
import { readFile } from 'node:fs/promises'
import { extname, posix } from 'node:path'
import { TaskProblem, taskPath } from './paths'

export const IMAGE_TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.svg': 'image/svg+xml',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.bmp': 'image/bmp',
}

// The src attribute of an <img> tag, quoted with " or '. HTML is not parsed fully: task files are ours.
const IMG_SRC = /(<img\b[^>]*?\ssrc\s*=\s*)(["'])(.*?)\2/gi
const ABSOLUTE = /^(?:[a-z][a-z0-9+.-]*:|\/|#)/i

/** `base` is the folder of the HTML file relative to the task folder `dir`. */
export async function inlineImages(html: string, dir: string, base: string): Promise<string> {
  const sources = new Map<string, string>()
  for (const match of html.matchAll(IMG_SRC)) {
    const src = match[3]!
    if (ABSOLUTE.test(src) || sources.has(src)) continue
    sources.set(src, await dataUrl(dir, base, src))
  }
  if (sources.size === 0) return html
  return html.replace(IMG_SRC, (whole, head: string, quote: string, src: string) =>
    sources.has(src) ? `${head}${quote}${sources.get(src)}${quote}` : whole,
  )
}

async function dataUrl(dir: string, base: string, src: string): Promise<string> {
  let path: string
  try {
    path = decodeURI(src.replace(/[?#].*$/, ''))
  } catch {
    throw new TaskProblem(`image "${src}" is not a valid URL`)
  }
  const relativePath = posix.normalize(posix.join(base, path))
  const type = IMAGE_TYPES[extname(relativePath).toLowerCase()]
  if (!type) throw new TaskProblem(`image "${src}" has no known image extension`)
  const real = await taskPath(dir, relativePath, 'image')
  const bytes = await readFile(real)
  return `data:${type};base64,${bytes.toString('base64')}`
}
