/**
 * Access keys: who may call the API and under which name. Keys come from API_KEYS (plain, for a quick start)
 * and API_KEYS_FILE (hashed); both end up as sha256 digests, and the plain text of API_KEYS is dropped once
 * hashed. A presented key is hashed and compared with every stored digest in constant time, so neither the
 * answer nor its timing tells how much of a guess was right.
 *
 * @example
 * const ring = loadKeyRing({ API_KEYS: 'alice:s3cret', API_KEYS_FILE: undefined })
 * ring.verify('s3cret') // { name: 'alice', role: 'learner' }
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Type as t, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { ConfigError } from '../config'

/** The settings this module reads (src/config.ts documents each). */
export interface KeySettings {
  API_KEYS: string | undefined
  API_KEYS_FILE: string | undefined
}

export type Role = 'learner' | 'admin'

const Quota = t.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })

/** A key's own limits, each replacing its setting (0: no limit); see src/access/quotas.ts. */
export const QuotaOverrides = t.Object(
  {
    executionPerMin: t.Optional(Quota),
    chatPerMin: t.Optional(Quota),
    judgePerMin: t.Optional(Quota),
    serversPerMin: t.Optional(Quota),
    concurrentExecutions: t.Optional(Quota),
    concurrentSockets: t.Optional(Quota),
    aiTokensPerDay: t.Optional(Quota),
  },
  { additionalProperties: false },
)
export type QuotaOverrides = Static<typeof QuotaOverrides>

const QUOTA_NAMES = Object.keys(QuotaOverrides.properties)

/** The caller a valid key stands for: its name is the client identity (logs, slots, server ownership). */
export interface Identity {
  name: string
  role: Role
  quotas?: QuotaOverrides
}

interface StoredKey extends Identity {
  digest: Buffer
}

export interface KeyRing {
  /** How many keys are configured; 0 means the server is open. */
  size: number
  verify(presented: string): Identity | undefined
}

const NAME = /^[A-Za-z0-9._@+-]{1,64}$/
const HASH = /^sha256:([0-9a-f]{64})$/i
const ROLES = new Set<string>(['learner', 'admin'])

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest()

/** `name:key` pairs or bare keys (named key-1, key-2, … by position), comma-separated. */
function parsePlainKeys(list: string, problems: string[]): StoredKey[] {
  const entries = list.split(',').map((entry) => entry.trim())
  return entries.flatMap((entry, index) => {
    if (!entry) return []
    const colon = entry.indexOf(':')
    const name = colon > 0 ? entry.slice(0, colon).trim() : `key-${index + 1}`
    const key = colon > 0 ? entry.slice(colon + 1).trim() : entry
    // Never quote the entry: it holds the key.
    if (!NAME.test(name)) problems.push(`API_KEYS entry ${index + 1}: the name must be 1-64 of A-Z a-z 0-9 . _ @ + -`)
    else if (!key) problems.push(`API_KEYS entry ${index + 1} (${name}): the key is empty`)
    else return [{ name, role: 'learner' as const, digest: sha256(key) }]
    return []
  })
}

/** The first problem of a `quotas` value as a sentence, or undefined when it is valid. */
function quotaProblem(quotas: unknown): string | undefined {
  if (typeof quotas !== 'object' || quotas === null || Array.isArray(quotas))
    return `quotas must be an object of ${QUOTA_NAMES.join(', ')}`
  const unknown = Object.keys(quotas).find((field) => !QUOTA_NAMES.includes(field))
  if (unknown) return `unknown quota ${JSON.stringify(unknown)}; known: ${QUOTA_NAMES.join(', ')}`
  const first = Value.Errors(QuotaOverrides, quotas).First()
  return first && `quotas${first.path} must be a whole number from 0 (0: no limit)`
}

function storedKey(
  where: string,
  name: unknown,
  hash: unknown,
  role: unknown,
  quotas: unknown,
  problems: string[],
): StoredKey[] {
  if (typeof name !== 'string' || !NAME.test(name)) {
    problems.push(`${where}: name must be 1-64 of A-Z a-z 0-9 . _ @ + -`)
    return []
  }
  const digest = typeof hash === 'string' ? HASH.exec(hash)?.[1] : undefined
  const badQuotas = quotas === undefined ? undefined : quotaProblem(quotas)
  if (!digest) problems.push(`${where} (${name}): hash must be sha256:<64 hex digits>`)
  else if (role !== undefined && !ROLES.has(role as string))
    problems.push(`${where} (${name}): role must be learner or admin`)
  else if (badQuotas) problems.push(`${where} (${name}): ${badQuotas}`)
  else {
    const key: StoredKey = { name, role: (role as Role | undefined) ?? 'learner', digest: Buffer.from(digest, 'hex') }
    if (quotas !== undefined) key.quotas = quotas as QuotaOverrides
    return [key]
  }
  return []
}

/** `field=value` words of a key line: the quotas; anything else is a problem. */
function lineQuotas(words: string[]): Record<string, unknown> | string {
  const quotas: Record<string, unknown> = {}
  for (const word of words) {
    const match = /^([A-Za-z]+)=(\d+)$/.exec(word)
    if (!match) return word
    quotas[match[1]!] = Number(match[2])
  }
  return quotas
}

/**
 * The key file: a JSON array `[{ "name", "hash": "sha256:<hex>", "role"?, "quotas"? }]`, or lines
 * `name sha256:<hex> [role] [quota=value ...]` (blank lines and `#` comments skipped), e.g.
 * `alice sha256:… learner aiTokensPerDay=50000 concurrentSockets=2`.
 */
export function parseKeyFile(text: string, file: string, problems: string[]): StoredKey[] {
  if (text.trimStart().startsWith('[')) {
    let entries: unknown
    try {
      entries = JSON.parse(text)
    } catch (error) {
      problems.push(`API_KEYS_FILE ${file}: not valid JSON (${(error as Error).message})`)
      return []
    }
    if (!Array.isArray(entries)) {
      problems.push(`API_KEYS_FILE ${file}: expected a JSON array`)
      return []
    }
    return entries.flatMap((entry, index) => {
      const { name, hash, role, quotas } = (entry ?? {}) as Record<string, unknown>
      return storedKey(`API_KEYS_FILE ${file} entry ${index + 1}`, name, hash, role, quotas, problems)
    })
  }
  return text.split('\n').flatMap((raw, index) => {
    const line = raw.replace(/#.*/, '').trim()
    if (!line) return []
    const [name, hash, ...rest] = line.split(/\s+/)
    const role = rest[0]?.includes('=') ? undefined : rest.shift()
    const where = `API_KEYS_FILE ${file} line ${index + 1}`
    const quotas = lineQuotas(rest)
    if (typeof quotas === 'string') {
      problems.push(`${where}: expected "name sha256:<hex> [role] [quota=value ...]"`)
      return []
    }
    return storedKey(where, name, hash, role, rest.length ? quotas : undefined, problems)
  })
}

export function keyRing(keys: StoredKey[]): KeyRing {
  return {
    size: keys.length,
    verify(presented) {
      const digest = sha256(presented)
      let found: StoredKey | undefined
      // Every digest is compared, so the time taken does not depend on which key (if any) matched.
      for (const key of keys) if (timingSafeEqual(key.digest, digest) && !found) found = key
      return found && { name: found.name, role: found.role, ...(found.quotas ? { quotas: found.quotas } : {}) }
    },
  }
}

/** Reads API_KEYS and API_KEYS_FILE; a bad entry or an unreadable file is a ConfigError naming the place, never the key. */
export function loadKeyRing(config: KeySettings): KeyRing {
  const problems: string[] = []
  const keys = config.API_KEYS ? parsePlainKeys(config.API_KEYS, problems) : []
  if (config.API_KEYS_FILE) {
    let text = ''
    try {
      text = readFileSync(config.API_KEYS_FILE, 'utf8')
    } catch (error) {
      problems.push(`API_KEYS_FILE ${config.API_KEYS_FILE}: cannot read (${(error as NodeJS.ErrnoException).code})`)
    }
    keys.push(...parseKeyFile(text, config.API_KEYS_FILE, problems))
  }
  const names = new Set<string>()
  for (const { name } of keys) {
    if (names.has(name)) problems.push(`access key name ${name} is used twice; names must be unique`)
    names.add(name)
  }
  if (problems.length) throw new ConfigError(problems)
  return keyRing(keys)
}
