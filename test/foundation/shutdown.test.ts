import { describe, expect, test } from 'bun:test'
import { Elysia } from 'elysia'
import { createApp } from '../../src/app'
import { shutDown } from '../../src/shutdown'
import { testConfig } from '../support/config'
import { fakeService, memoryLogger } from '../support/services'

/** An app with a route that stays in flight until the test releases it. */
function appWithSlowRoute() {
  let entered!: () => void
  let release!: () => void
  const inFlight = new Promise<void>((resolve) => (entered = resolve))
  const released = new Promise<void>((resolve) => (release = resolve))
  const services = {
    runner: fakeService({}),
    providers: fakeService({}),
    tasks: fakeService({}),
    servers: fakeService({}),
  }
  const app = createApp({ config: testConfig(), ...(services as any) })
    .use(
      new Elysia().get('/probe/slow', async () => {
        entered()
        await released
        return { finished: true }
      }),
    )
    .listen({ hostname: '127.0.0.1', port: 0 })
  return { app, services, inFlight, release, url: `http://127.0.0.1:${app.server!.port}` }
}

describe('graceful shutdown', () => {
  test('lets an in-flight request finish, refuses new ones, then closes every service', async () => {
    const { app, services, inFlight, release, url } = appWithSlowRoute()
    const pending = fetch(`${url}/probe/slow`)
    await inFlight

    const stopping = shutDown(
      app.server!,
      async () => {
        for (const s of Object.values(services)) s.close()
      },
      10_000,
      memoryLogger(),
    )
    await expect(fetch(`${url}/health`)).rejects.toThrow()
    expect(services.runner.closed).toBe(false)

    release()
    const response = await pending
    expect(await response.json()).toEqual({ finished: true })
    await stopping
    expect(Object.values(services).map((s) => s.closed)).toEqual([true, true, true, true])
  })

  test('cuts requests still running when the grace period ends', async () => {
    const { app, services, inFlight, release, url } = appWithSlowRoute()
    const pending = fetch(`${url}/probe/slow`).then(
      () => 'answered',
      () => 'cut',
    )
    await inFlight
    const logger = memoryLogger()
    await shutDown(
      app.server!,
      async () => {
        for (const s of Object.values(services)) s.close()
      },
      50,
      logger,
    )
    expect(await pending).toBe('cut')
    expect(logger.lines.map((line) => line.msg)).toEqual(['grace period over; closing open connections'])
    expect(services.servers.closed).toBe(true)
    release()
  })
})
