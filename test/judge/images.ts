/** Small real-looking images as data URLs for judge tests. */
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'

const b64 = (bytes: Uint8Array | number[]) => Buffer.from(bytes as Uint8Array).toString('base64')
const pad = (head: number[], length = 32) => [...head, ...new Array(Math.max(0, length - head.length)).fill(0)]
const ascii = (text: string) => [...text].map((c) => c.charCodeAt(0))

export const PNG_BYTES = readFileSync(resolve(import.meta.dir, '../fixtures/tasks/good-task/images/dot.png'))
export const PNG = `data:image/png;base64,${PNG_BYTES.toString('base64')}`
export const JPEG = `data:image/jpeg;base64,${b64(pad([0xff, 0xd8, 0xff, 0xe0]))}`
export const GIF = `data:image/gif;base64,${b64(pad(ascii('GIF89a')))}`
export const WEBP = `data:image/webp;base64,${b64(pad([...ascii('RIFF'), 24, 0, 0, 0, ...ascii('WEBPVP8 ')]))}`
