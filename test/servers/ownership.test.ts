/**
 * A Python server belongs to the client that started it: others see that it exists, never its output, and can
 * neither read nor stop it without its owner token. Two clients are told apart by a test header standing in
 * for their addresses (createApp's `identify`).
 */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import type { Identify } from '../../src/http/client'
import { get, post } from '../support/http'
import { HELLO, appFactory, freePortBlock, probePort } from './helpers'

// Starting sandboxes on a busy machine can take seconds: a guard against hangs, not a timing assertion.
setDefaultTimeout(30_000)

const first = await freePortBlock(8)
const makeApp = appFactory(first, 8)
const byTestHeader: Identify = (request) => request.headers.get('x-test-client') ?? 'local'
const as = (client: string, headers: Record<string, string> = {}) => ({ 'x-test-client': client, ...headers })

describe('deprecated Python servers: ownership', () => {
  test.concurrent("client B cannot list the output of, read the output of, or stop client A's server", async () => {
    const app = makeApp({}, { identify: byTestHeader })
    const port = first
    const code = `print("LEARNER-A-PRIVATE-TOKEN", flush=True)\n${HELLO}`
    const started = await post(app, '/api/start-python-server', { pythonCode: code, port }, as('A'))
    expect(started.body).toMatchObject({ success: true, listening: true })
    const token: string = started.body.owner_token

    // B sees that a server runs on that port (so it picks another port), but nothing it printed.
    const listedForB = (await get(app, '/api/list-python-servers', as('B'))).body.servers
    expect(listedForB).toEqual([expect.objectContaining({ port, status: 'running', owned: false })])
    expect(listedForB[0]).not.toHaveProperty('output_tail')
    expect(JSON.stringify(listedForB)).not.toContain('LEARNER-A-PRIVATE-TOKEN')
    expect(JSON.stringify(listedForB)).not.toContain(token)

    const notOwner = { status: 403, body: { success: false, error_type: 'not_owner' } }
    expect(await get(app, `/api/python-servers/${port}/output`, as('B'))).toMatchObject(notOwner)
    expect(await get(app, `/api/python-servers/${port}/output`, as('B', { 'x-server-token': 'guess' }))).toMatchObject(
      notOwner,
    )
    expect(await post(app, '/api/stop-python-server', { port }, as('B'))).toMatchObject(notOwner)
    expect(
      await post(app, '/api/stop-python-server', { port }, as('B', { 'x-server-token': token.slice(1) })),
    ).toMatchObject(notOwner)
    const refusal = (await get(app, `/api/python-servers/${port}/output`, as('B'))).body
    expect(JSON.stringify(refusal)).not.toContain('LEARNER-A-PRIVATE-TOKEN')
    expect(await probePort(port)).toBe('open') // still running

    // A sees its own output, with or without its token (an old client sends none).
    const listedForA = (await get(app, '/api/list-python-servers', as('A'))).body.servers
    expect(listedForA[0]).toMatchObject({
      port,
      owned: true,
      output_tail: expect.stringContaining('LEARNER-A-PRIVATE-TOKEN'),
    })
    for (const headers of [as('A'), as('A', { 'x-server-token': token })]) {
      const output = await get(app, `/api/python-servers/${port}/output`, headers)
      expect(output.body).toEqual({
        port,
        status: 'running',
        output_tail: expect.stringContaining('LEARNER-A-PRIVATE-TOKEN'),
      })
    }
    // A wrong token is refused even from A: a token, when sent, decides alone.
    expect(await post(app, '/api/stop-python-server', { port }, as('A', { 'x-server-token': 'wrong' }))).toMatchObject(
      notOwner,
    )

    // The token is the capability: whoever A hands it to may stop the server.
    const stopped = await post(app, '/api/stop-python-server', { port }, as('B', { 'x-server-token': token }))
    expect(stopped).toMatchObject({ status: 200, body: { success: true } })
    expect(await probePort(port)).toBe('refused')
    expect(await get(app, `/api/python-servers/${port}/output`, as('B'))).toMatchObject(notOwner) // stopped, still A's
  })

  test.concurrent('one client runs at most SERVERS_PER_CLIENT servers, even when its starts race', async () => {
    const app = makeApp({ SERVERS_PER_CLIENT: '2', SERVERS_MAX: '4' }, { identify: byTestHeader })
    const ports = [first + 1, first + 2, first + 3]
    const replies = await Promise.all(
      ports.map((port) => post(app, '/api/start-python-server', { pythonCode: HELLO, port }, as('A'))),
    )
    expect(replies.map((reply) => reply.status).sort()).toEqual([200, 200, 429])
    const refused = replies.find((reply) => reply.status === 429)!
    expect(refused.body).toMatchObject({ success: false, error_type: 'client_server_limit' })
    expect(refused.body.error).toBe('You already run 2 Python servers, the most one client may; stop one first')

    // Another client is not held back by A's servers.
    const other = await post(app, '/api/start-python-server', { pythonCode: HELLO, port: first + 4 }, as('B'))
    expect(other.body).toMatchObject({ success: true, listening: true })
    // A stopped server frees A's slot.
    const running = ports.filter((_, i) => replies[i]!.status === 200)
    await post(app, '/api/stop-python-server', { port: running[0] }, as('A'))
    const again = await post(app, '/api/start-python-server', { pythonCode: HELLO, port: first + 5 }, as('A'))
    expect(again.body).toMatchObject({ success: true, listening: true })
  })

  test('the OpenAPI document shows the owner token and the 403', async () => {
    const { body } = await get(makeApp(), '/openapi/json')
    const stop = body.paths['/api/stop-python-server'].post
    expect(stop.responses).toHaveProperty('403')
    expect(stop.parameters).toContainEqual(expect.objectContaining({ name: 'x-server-token', in: 'header' }))
    expect(body.paths['/api/python-servers/{port}/output'].get.responses).toHaveProperty('403')
    expect(JSON.stringify(body.components.schemas)).toContain('owner_token')
  })
})
