/**
 * JSON Web Tokens from an IDE that already signs in its learners: HS256 with JWT_SECRET, or the asymmetric
 * keys of a JSON Web Key Set at JWT_JWKS_URL (fetched by jose with a time limit, cached, refetched at most every
 * 30 s when a token names an unknown key). Verification is jose's; this file only chooses the keys, the
 * algorithms and the claims we insist on.
 *
 * The `sub` claim is the client, named `jwt:<sub>`: a key name cannot contain `:` (keys.ts), so a token can never
 * take over the quotas or Python servers of an access key with the same name. `exp` is required: a token that
 * never expires is a password nobody can change. A token's claims never make it an admin: an identity provider
 * shared with other applications may put `role: admin` in tokens for its own reasons, so admins use keys.
 *
 * @example
 * const verifier = createJwtVerifier(config)
 * await verifier?.verify(token) // { ok: true, identity: { name: 'jwt:learner-42', role: 'learner' } }
 */
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose'
import { ConfigError } from '../config'
import type { Identity } from './keys'

/** The settings this module reads (src/config.ts documents each). */
export interface JwtSettings {
  JWT_SECRET: string | undefined
  JWT_JWKS_URL: string | undefined
  JWT_ISSUER: string | undefined
  JWT_AUDIENCE: string | undefined
}

export type TokenProblem = 'expired' | 'invalid' | 'unavailable'

export type TokenVerdict = { ok: true; identity: Identity } | { ok: false; problem: TokenProblem; message: string }

export interface JwtVerifier {
  /** Which kinds of token are accepted, for /health: `HS256`, `JWKS` or both. */
  readonly methods: string[]
  verify(token: string): Promise<TokenVerdict>
}

/** Every field optional: callers that only care about keys need not name them. */
export type JwtConfig = Partial<JwtSettings>

/** Asymmetric algorithms only: a JWKS key must never be usable as an HMAC secret (algorithm confusion). */
const JWKS_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
]
export const JWKS_TIMEOUT_MS = 5000
const JWKS_CACHE_MS = 10 * 60_000
/** Clocks of the signer and this server may differ a little. */
const CLOCK_TOLERANCE_S = 30
/** Far above any real token; a bigger one is refused before it is parsed. */
const MAX_TOKEN_CHARS = 8192
// The subject ends up in logs and as the key of quotas and slots: printable ASCII, bounded.
const SUBJECT = /^[!-~]{1,128}$/

const JWT_SHAPED = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/

/** Whether a presented credential is shaped like a JWT (three base64url parts): only those are verified. */
export const looksLikeJwt = (credential: string) => credential.length <= MAX_TOKEN_CHARS && JWT_SHAPED.test(credential)

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]'])

function jwksUrl(raw: string): URL {
  const url = new URL(raw)
  // Keys fetched over plain HTTP could be swapped by anyone on the path, and with them every token.
  if (url.protocol !== 'https:' && !LOOPBACK.has(url.hostname)) {
    throw new ConfigError([`JWT_JWKS_URL must use https (plain http only on a loopback address): ${url.origin}`])
  }
  return url
}

const refused = (problem: TokenProblem, message: string): TokenVerdict => ({ ok: false, problem, message })

/** jose's error as what the client is told. */
function verdictOf(error: unknown): TokenVerdict {
  if (error instanceof errors.JWTExpired) return refused('expired', 'The token has expired; sign in again')
  if (error instanceof errors.JWTClaimValidationFailed) {
    const claim = error.claim
    if (claim === 'exp') return refused('invalid', 'The token has no expiry (exp claim)')
    return refused('invalid', `The token's ${claim} claim is not accepted here`)
  }
  // The key set could not be fetched or read: the token may be fine, the identity provider is not.
  const unreachable =
    error instanceof errors.JWKSTimeout ||
    error instanceof errors.JWKSInvalid ||
    !(error instanceof errors.JOSEError) ||
    error.constructor === errors.JOSEError
  if (unreachable) return refused('unavailable', 'The token cannot be checked right now: the key set is unreachable')
  return refused('invalid', 'The token is not valid')
}

export function createJwtVerifier(config: JwtConfig): JwtVerifier | undefined {
  if (!config.JWT_SECRET && !config.JWT_JWKS_URL) return undefined
  const secret = config.JWT_SECRET ? new TextEncoder().encode(config.JWT_SECRET) : undefined
  const jwks = config.JWT_JWKS_URL
    ? createRemoteJWKSet(jwksUrl(config.JWT_JWKS_URL), { timeoutDuration: JWKS_TIMEOUT_MS, cacheMaxAge: JWKS_CACHE_MS })
    : undefined
  const algorithms = [...(secret ? ['HS256'] : []), ...(jwks ? JWKS_ALGORITHMS : [])]
  // The token's header picks the key, within the algorithms allowed above (jose checks the header against them).
  const key: JWTVerifyGetKey = async (header, token) => {
    if (header.alg === 'HS256' && secret) return secret
    if (jwks) return jwks(header, token)
    throw new errors.JOSEAlgNotAllowed('"alg" (Algorithm) Header Parameter value not allowed')
  }
  return {
    methods: [...(secret ? ['HS256'] : []), ...(jwks ? ['JWKS'] : [])],
    async verify(token) {
      if (!looksLikeJwt(token)) return refused('invalid', 'The token is not valid')
      let payload: JWTPayload
      try {
        ;({ payload } = await jwtVerify(token, key, {
          algorithms,
          requiredClaims: ['exp'],
          clockTolerance: CLOCK_TOLERANCE_S,
          ...(config.JWT_ISSUER ? { issuer: config.JWT_ISSUER } : {}),
          ...(config.JWT_AUDIENCE ? { audience: config.JWT_AUDIENCE } : {}),
        }))
      } catch (error) {
        return verdictOf(error)
      }
      const subject = payload.sub
      if (typeof subject !== 'string' || !subject)
        return refused('invalid', 'The token has no subject (sub claim): it names no learner')
      if (!SUBJECT.test(subject))
        return refused('invalid', "The token's subject must be 1-128 printable ASCII characters")
      return { ok: true, identity: { name: `jwt:${subject}`, role: 'learner' } }
    },
  }
}
