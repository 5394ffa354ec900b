/**
 * Access keys as a test writes them: the stored form of a key in API_KEYS_FILE, and a whole key file in a
 * temporary folder that goes away after the file's tests.
 */
import { afterAll } from 'bun:test'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** How API_KEYS_FILE stores a key: `sha256:` and the hex digest. */
export const keyHash = (key: string) => `sha256:${createHash('sha256').update(key).digest('hex')}`

/** A JSON API_KEYS_FILE holding `entries` (each key given in clear, written hashed); returns its path. */
export function keysFile(entries: { name: string; key: string; role?: 'learner' | 'admin' }[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'keys-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'keys.json')
  writeFileSync(file, JSON.stringify(entries.map(({ key, ...entry }) => ({ ...entry, hash: keyHash(key) }))))
  return file
}
