/** Refusals (envelope and status), the count limit, the lifetime limit, the sandbox requirement and close(). */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { createServer } from 'node:net'
import { createServerManager } from '../../src/servers/manager'
import { createLogger } from '../../src/logging'
import { testConfig } from '../support/config'
import { get, post } from '../support/http'
import { sandboxWithoutBwrap } from '../support/app'
import { HELLO, alive, appFactory, freePortBlock, probePort, processesMatching, sleepMarker } from './helpers'

// Starting sandboxes on a busy machine can take seconds: a guard against hangs, not a timing assertion.
setDefaultTimeout(30_000)

const first = await freePortBlock(12)
const makeApp = appFactory(first, 12)
const start = (app: ReturnType<typeof makeApp>, port: number, pythonCode = HELLO) =>
  post(app, '/api/start-python-server', { pythonCode, port })

describe('deprecated Python servers: limits', () => {
  test.concurrent('bad requests are refused with the envelope', async () => {
    const app = makeApp({ MAX_CODE_BYTES: '1000' })
    const outside = await start(app, first + 100)
    expect(outside).toMatchObject({ status: 400, body: { success: false, error_type: 'port_out_of_range' } })
    expect(outside.body.error).toBe(`Port ${first + 100} is outside the allowed range ${first}-${first + 11}`)
    expect((await start(app, first - 1)).status).toBe(400)
    expect((await post(app, '/api/start-python-server', { port: first })).status).toBe(400)
    const empty = await start(app, first, ' \n ')
    expect(empty).toMatchObject({ status: 400, body: { error_type: 'validation_error' } })
    const large = await start(app, first, `print(${'1'.repeat(1000)})`)
    expect(large).toMatchObject({ status: 413, body: { error_type: 'payload_too_large' } })
    const unknown = await post(app, '/api/stop-python-server', { port: first })
    expect(unknown).toMatchObject({ status: 404, body: { success: false, error_type: 'server_not_found' } })
    expect((await get(app, '/api/list-python-servers')).body).toEqual({ servers: [] })
  })

  test.concurrent('a port someone else listens on, or one of ours, is a 409', async () => {
    const app = makeApp()
    const foreign = createServer()
    await new Promise<void>((resolve) => foreign.listen(first + 1, '127.0.0.1', resolve))
    const taken = await start(app, first + 1)
    expect(taken).toMatchObject({ status: 409, body: { error_type: 'port_in_use' } })
    foreign.close()

    expect((await start(app, first + 2)).status).toBe(200)
    const ours = await start(app, first + 2)
    expect(ours).toMatchObject({ status: 409, body: { error_type: 'port_in_use' } })
    await post(app, '/api/stop-python-server', { port: first + 2 })
    expect((await start(app, first + 2)).status).toBe(200) // free again once stopped
  })

  test.concurrent('at most SERVERS_MAX run at once, even when starts race; a stopped one frees a slot', async () => {
    const app = makeApp({ SERVERS_MAX: '2' })
    const ports = [first + 3, first + 4, first + 5]
    const replies = await Promise.all(ports.map((port) => start(app, port)))
    expect(replies.map((r) => r.status).sort()).toEqual([200, 200, 429])
    const refused = replies.find((r) => r.status === 429)!
    expect(refused.body).toMatchObject({ success: false, error_type: 'too_many_servers' })
    const idle = ports[replies.indexOf(refused)]!
    expect(await probePort(idle)).toBe('refused')

    const running = ports.filter((port) => port !== idle)
    await post(app, '/api/stop-python-server', { port: running[0] })
    expect((await start(app, idle)).status).toBe(200)
    expect((await get(app, '/health')).body.checks.python_servers).toEqual({
      ok: true,
      running: 2,
      limit: 2,
      per_client: 2,
      connections_each: 32,
      lifetime_s: 600,
    })
  })

  test.concurrent('SERVERS_MAX=0 disables the feature', async () => {
    const app = makeApp({ SERVERS_MAX: '0' })
    expect(await start(app, first + 6)).toMatchObject({ status: 503, body: { error_type: 'servers_disabled' } })
  })

  test.concurrent('a server is stopped after SERVERS_LIFETIME_S, with its processes and its port', async () => {
    const app = makeApp({ SERVERS_LIFETIME_S: '1' })
    const port = first + 7
    const marker = sleepMarker()
    const code = `import subprocess\nsubprocess.Popen(["sleep", "${marker}"])\n${HELLO}`
    const { body } = await start(app, port, code) // on a busy machine it may not even listen within 1 s
    const stopped = await app.decorator.services.servers.whenStopped(port)
    expect(stopped).toMatchObject({ status: 'stopped', stopReason: 'lifetime', exitCode: null })
    expect(stopped.output_tail).toContain('[stopped: lifetime limit of 1 s reached]')
    const listed = (await get(app, '/api/list-python-servers')).body.servers[0]
    expect(listed).toMatchObject({ port, status: 'stopped', stopTime: expect.any(String) })
    expect(alive(body.processId)).toBe(false)
    expect(processesMatching(`sleep ${marker}`)).toBe('')
    expect(await probePort(port)).toBe('refused')
  })

  test.concurrent('SANDBOX=required without a usable bubblewrap is a 503 and nothing runs', async () => {
    const config = testConfig({
      SANDBOX: 'required',
      SERVERS_PORT_MIN: String(first),
      SERVERS_PORT_MAX: String(first + 11),
    })
    const servers = createServerManager({
      config,
      logger: createLogger('silent'),
      sandbox: sandboxWithoutBwrap({ SANDBOX: 'required' }),
    })
    const app = makeApp({ SANDBOX: 'required' }, { servers })
    const refused = await start(app, first + 8)
    expect(refused).toMatchObject({ status: 503, body: { error_type: 'sandbox_unavailable' } })
    expect(servers.list('local')).toEqual([])
    expect(await probePort(first + 8)).toBe('refused')
  })

  test.concurrent('close() kills every server and everything it started, and refuses new ones', async () => {
    const app = makeApp()
    const ports = [first + 9, first + 10]
    const marker = sleepMarker()
    const code = `import subprocess\nsubprocess.Popen(["sleep", "${marker}"])\n${HELLO}`
    const started = await Promise.all(ports.map((port) => start(app, port, code)))
    expect(started.map((r) => r.body.listening)).toEqual([true, true])
    expect(processesMatching(`sleep ${marker}`).split('\n')).toHaveLength(2)

    await app.decorator.services.servers.close()
    for (const { body } of started) expect(alive(body.processId)).toBe(false)
    expect(processesMatching(`sleep ${marker}`)).toBe('')
    for (const port of ports) expect(await probePort(port)).toBe('refused')
    const { body } = await get(app, '/api/list-python-servers')
    expect(body.servers.map((s: { stopReason: string }) => s.stopReason)).toEqual(['shutdown', 'shutdown'])
    expect(await start(app, first + 11)).toMatchObject({ status: 503, body: { error_type: 'shutting_down' } })
  })
})
