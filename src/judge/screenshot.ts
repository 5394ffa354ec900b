/**
 * Screenshot checks before anything reaches a model: a base64 `data:` URL of a PNG, JPEG, WebP or GIF whose
 * first bytes really are that format, and whose decoded size is under the cap. Checking the magic bytes keeps
 * us from paying for (or forwarding) arbitrary files dressed up as images.
 */
import { AppError } from '../errors'

export const MAX_SCREENSHOT_BYTES = 20 * 1024 * 1024

export interface Screenshot {
  mediaType: 'image/png' | 'image/jpeg' | 'image/webp' | 'image/gif'
  /** base64, without the `data:` prefix */
  data: string
  bytes: number
}

const DATA_URL = /^data:image\/(png|jpeg|jpg|webp|gif);base64,/i
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

const MAGIC: Record<Screenshot['mediaType'], (b: Uint8Array) => boolean> = {
  'image/png': (b) => [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a].every((x, i) => b[i] === x),
  'image/jpeg': (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff,
  'image/gif': (b) => ascii(b, 0, 6) === 'GIF87a' || ascii(b, 0, 6) === 'GIF89a',
  'image/webp': (b) => ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'WEBP',
}

const ascii = (bytes: Uint8Array, from: number, to: number) => String.fromCharCode(...bytes.subarray(from, to))

const invalid = (message: string) => new AppError('invalid_screenshot', 400, message)

/** Parses and checks a screenshot data URL; throws AppError 400 `invalid_screenshot` saying what is wrong. */
export function parseScreenshot(value: unknown, maxBytes = MAX_SCREENSHOT_BYTES): Screenshot {
  if (typeof value !== 'string' || value.length === 0)
    throw invalid('screenshot is required: a data:image/...;base64 URL')
  const header = DATA_URL.exec(value.slice(0, 40))
  if (!header) throw invalid('screenshot must be a base64 data URL of a PNG, JPEG, WebP or GIF image')
  const kind = header[1]!.toLowerCase()
  const mediaType = `image/${kind === 'jpg' ? 'jpeg' : kind}` as Screenshot['mediaType']
  const data = value.slice(header[0].length)
  if (data.length % 4 !== 0 || !BASE64.test(data)) throw invalid('screenshot is not valid base64')
  const bytes = (data.length / 4) * 3 - (data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0)
  if (bytes === 0) throw invalid('screenshot is empty')
  if (bytes > maxBytes) {
    throw invalid(`screenshot is ${bytes} bytes; the limit is ${maxBytes}`)
  }
  const head = Buffer.from(data.slice(0, 16), 'base64')
  if (!MAGIC[mediaType](head)) throw invalid(`screenshot data is not a ${kind.toUpperCase()} image`)
  return { mediaType, data, bytes }
}
