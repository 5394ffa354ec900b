/**
 * JSON Web Tokens (src/access/jwt.ts): HS256 with JWT_SECRET and asymmetric keys from a JWKS served by a real
 * HTTP server on 127.0.0.1. A valid token's subject is the client; expired, forged, unsigned, subject-less and
 * expiry-less tokens are 401 with a message saying which; keys and tokens work side by side; a token never
 * reaches the logs.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose'
import { answer } from '../support/fake-sse'
import { get, post } from '../support/http'
import { inertServers, testApp } from '../support/app'
import { memoryLogger } from '../support/services'
import { connectWs } from '../support/ws'
import { ask, startChat } from '../chat/harness'
import { startServer } from '../support/process'
import { OPEN_WARNING } from '../../src/access'

const SECRET = 'a-test-secret-of-at-least-32-characters!'
const KEY = 'teacher-key-8d1f'
const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
const now = () => Math.floor(Date.now() / 1000)

const hs256 = (claims: JWTPayload, secret = SECRET) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret))

const learner = (sub = 'learner-42', extra: JWTPayload = {}) => hs256({ sub, exp: now() + 600, ...extra })

/** An unsigned token (`alg: none`), as an attacker would write it by hand. */
const unsigned = (claims: JWTPayload) => {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`
}

const logger = memoryLogger()
const listedFor: string[] = []
const app = testApp({
  config: { JWT_SECRET: SECRET, API_KEYS: `teacher:${KEY}` },
  logger,
  servers: {
    ...inertServers(),
    list: (client) => {
      listedFor.push(client)
      return []
    },
  },
})
const servers = (headers: Record<string, string> = {}) => get(app, '/api/list-python-servers', headers)

describe('HS256 (JWT_SECRET)', () => {
  test('a valid token passes, and its subject is the client the Python-server manager is asked for', async () => {
    listedFor.length = 0
    expect((await servers(bearer(await learner('learner-42')))).status).toBe(200)
    expect((await servers(bearer(await learner('learner-43')))).status).toBe(200)
    expect(listedFor).toEqual(['jwt:learner-42', 'jwt:learner-43'])
  })

  test('keys still work next to tokens, and a key name cannot be claimed by a token subject', async () => {
    listedFor.length = 0
    expect((await servers(bearer(KEY))).status).toBe(200)
    expect((await servers(bearer(await learner('teacher')))).status).toBe(200)
    expect(listedFor).toEqual(['teacher', 'jwt:teacher'])
  })

  test('expired: 401 saying so, with an invalid_token challenge', async () => {
    const reply = await servers(bearer(await hs256({ sub: 'learner-42', exp: now() - 3600 })))
    expect(reply.status).toBe(401)
    expect(reply.body).toMatchObject({ error_type: 'unauthorized', error: 'The token has expired; sign in again' })
    expect(reply.headers.get('www-authenticate')).toStartWith('Bearer error="invalid_token"')
  })

  test('a wrong signature, alg none, no subject or no expiry: 401 each, with what is wrong', async () => {
    const refused = async (token: string) => {
      const reply = await servers(bearer(token))
      expect(reply.status).toBe(401)
      return reply.body.error as string
    }
    expect(
      await refused(await hs256({ sub: 'learner-42', exp: now() + 600 }, 'another-secret-of-at-least-32-chars!!')),
    ).toBe('The token is not valid')
    expect(await refused(unsigned({ sub: 'learner-42', exp: now() + 600 }))).toBe('The token is not valid')
    expect(await refused(await hs256({ exp: now() + 600 }))).toContain('no subject')
    expect(await refused(await hs256({ sub: 'learner-42' }))).toContain('no expiry')
    expect(await refused(await learner('a'.repeat(200)))).toContain('subject must be')
  })

  test('a role claim never makes a token an admin: /metrics stays closed to it', async () => {
    const reply = await get(app, '/metrics', bearer(await learner('learner-42', { role: 'admin' })))
    expect(reply.status).toBe(403)
    expect((await get(app, '/metrics', bearer(KEY))).status).toBe(403) // a learner key, for comparison
  })

  test('/health shows its details to a token holder and names both methods', async () => {
    expect(Object.keys((await get(app, '/health')).body).sort()).toEqual(['message', 'status', 'version'])
    const detailed = await get(app, '/health', bearer(await learner()))
    expect(detailed.body.checks.access).toEqual({ ok: true, mode: 'keys+jwt', keys: 1, jwt: ['HS256'] })
  })

  test('a token never appears in the logs; the request line names its subject', async () => {
    const token = await learner('learner-77')
    await servers(bearer(token))
    const line = await logger.next((l) => l.msg === 'request' && l.client === 'jwt:learner-77')
    expect(line).toMatchObject({ status: 200, path: '/api/list-python-servers' })
    expect(JSON.stringify(logger.lines)).not.toContain(token.split('.')[2]!)
  })
})

describe('issuer and audience', () => {
  const strict = testApp({ config: { JWT_SECRET: SECRET, JWT_ISSUER: 'https://ide.example', JWT_AUDIENCE: 'tutor' } })
  test('a token for another audience or from another issuer is refused', async () => {
    const sign = (claims: JWTPayload) => hs256({ sub: 'learner-42', exp: now() + 600, ...claims })
    const status = async (claims: JWTPayload) => (await get(strict, '/tasks', bearer(await sign(claims)))).status
    expect(await status({ iss: 'https://ide.example', aud: 'tutor' })).toBe(200)
    expect(await status({ iss: 'https://ide.example', aud: 'other-app' })).toBe(401)
    expect(await status({ iss: 'https://evil.example', aud: 'tutor' })).toBe(401)
    expect(await status({})).toBe(401)
  })
})

describe('JWKS (JWT_JWKS_URL), served over real HTTP on loopback', async () => {
  const { publicKey, privateKey } = await generateKeyPair('ES256')
  const stranger = await generateKeyPair('ES256')
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }
  let fetched = 0
  const jwksServer = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch: () => {
      fetched++
      return Response.json({ keys: [jwk] })
    },
  })
  afterAll(() => jwksServer.stop(true))
  const url = `http://127.0.0.1:${jwksServer.port}/.well-known/jwks.json`
  const jwksApp = testApp({ config: { JWT_JWKS_URL: url } })
  const es256 = (key = privateKey, claims: JWTPayload = { sub: 'learner-9', exp: now() + 600 }) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).sign(key)

  test('a token signed by a key of the set passes; the set is fetched once and cached', async () => {
    expect((await get(jwksApp, '/tasks', bearer(await es256()))).status).toBe(200)
    expect((await get(jwksApp, '/tasks', bearer(await es256()))).status).toBe(200)
    expect(fetched).toBe(1)
  })

  test('a token signed by another key, or an HS256 token made with the public key as secret, is refused', async () => {
    expect((await get(jwksApp, '/tasks', bearer(await es256(stranger.privateKey)))).status).toBe(401)
    const confused = await hs256({ sub: 'learner-9', exp: now() + 600 }, JSON.stringify(jwk))
    expect((await get(jwksApp, '/tasks', bearer(confused))).status).toBe(401)
  })

  test('an unreachable key set is a 503 that says so, not a 401 that would sign the learner out', async () => {
    const dead = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response('') })
    const deadUrl = `http://127.0.0.1:${dead.port}/jwks.json`
    dead.stop(true)
    const orphan = testApp({ config: { JWT_JWKS_URL: deadUrl } })
    const reply = await get(orphan, '/tasks', bearer(await es256()))
    expect(reply.status).toBe(503)
    expect(reply.body.error_type).toBe('auth_unavailable')
    expect(reply.headers.get('retry-after')).toBe('5')
  })

  test('a key set over plain HTTP off loopback is a configuration error', () => {
    expect(() => testApp({ config: { JWT_JWKS_URL: 'http://idp.example/jwks.json' } })).toThrow(
      'JWT_JWKS_URL must use https',
    )
  })
})

describe('/ws/chat', () => {
  test('a token as ?token= opens a working chat; an expired one closes with 4401', async () => {
    const harness = startChat({ openai: [answer('Hi there.')], config: { JWT_SECRET: SECRET } })
    try {
      const ws = await connectWs(`${harness.wsUrl}?token=${await learner()}`)
      ws.send({ messages: ask('Hi'), mode: 'chat' })
      expect((await ws.response()).at(-1)).toMatchObject({ type: 'complete', content: 'Hi there.' })
      await ws.close()
      const expired = await hs256({ sub: 'learner-42', exp: now() - 60 })
      expect(await (await connectWs(`${harness.wsUrl}?token=${expired}`)).closed).toBe(4401)
      expect(await (await connectWs(harness.wsUrl)).closed).toBe(4401)
      expect(harness.openai.requests).toHaveLength(1)
    } finally {
      await harness.stop()
    }
  })
})

test('with only JWT configured the server is not open: no token, 401', async () => {
  const jwtOnly = testApp({ config: { JWT_SECRET: SECRET } })
  const reply = await get(jwtOnly, '/tasks')
  expect(reply.status).toBe(401)
  expect(reply.headers.get('www-authenticate')).toBe('Bearer')
  const health = await get(jwtOnly, '/health', bearer(await learner()))
  expect(health.body.checks.access).toEqual({ ok: true, mode: 'jwt', jwt: ['HS256'] })
})

test('the server process with only JWT_SECRET does not call itself open at start-up', async () => {
  const server = startServer({ LOG_LEVEL: 'info', EXEC_POOL_SIZE: '0', JWT_SECRET: SECRET })
  await server.line('listening')
  server.proc.kill('SIGTERM')
  await server.line('stopped')
  expect(await server.proc.exited).toBe(0)
  // The warning would have come right after "listening"; the log has ended without it.
  expect(
    await server.line(OPEN_WARNING).then(
      () => 'warned',
      () => 'no warning',
    ),
  ).toBe('no warning')
})

test("rate limits count per token subject: one learner's refusals leave another's allowance whole", async () => {
  const limited = testApp({ config: { JWT_SECRET: SECRET, RATE_JUDGE_PER_MIN: '1' } })
  const judge = async (sub: string) => (await post(limited, '/api/llm-judge', {}, bearer(await learner(sub)))).status
  expect(await judge('learner-1')).not.toBe(429)
  expect(await judge('learner-1')).toBe(429)
  expect(await judge('learner-2')).not.toBe(429)
})
