/**
 * One endpoint, two ways in: through execute-endpoint and through a started Python server it converts arguments,
 * serialises results and allows methods by the same rules (src/python/core.py). Real sandboxes, real HTTP.
 */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { post } from '../support/http'
import { appFactory, freePortBlock } from './helpers'

// Starting sandboxes on a busy machine can take seconds: a guard against hangs, not a timing assertion.
setDefaultTimeout(30_000)

const port = await freePortBlock(1)
const makeApp = appFactory(port, 1)

const code = [
  'from typing import Optional',
  '@endpoint',
  'def f(x: Optional[str], n: int, items: list = None):',
  '    return {"x": x, "x_type": type(x).__name__, "n": n, "n_type": type(n).__name__, "items": items,',
  '            "pair": (n, n), "set": {1}, "big": 10 ** 400, "nan": float("nan"), 5: "int key"}',
  "@endpoint('/only-post', methods=['post'])",
  'def only_post():',
  '    return "posted"',
].join('\n')

describe('the same endpoint through execute-endpoint and a Python server', () => {
  test('arguments, result and methods agree', async () => {
    const app = makeApp()
    const args = { x: '1', n: '2', items: '[1, 2]' }
    const executed = await post(app, '/api/execute-endpoint', { pythonCode: code, endpoint: '/f', args })
    expect(executed.body.success).toBe(true)
    expect(executed.body.result).toMatchObject({
      x: '1',
      x_type: 'str',
      n: 2,
      n_type: 'int',
      items: [1, 2],
      pair: [2, 2],
    })

    const started = await post(app, '/api/start-python-server', { pythonCode: code, port })
    expect(started.body).toMatchObject({ success: true, listening: true })
    const url = `http://127.0.0.1:${port}`
    const byPost = await fetch(`${url}/f`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(args),
    })
    expect(await byPost.json()).toEqual({ result: executed.body.result })
    const byGet = await fetch(`${url}/f?${new URLSearchParams(args)}`)
    expect(await byGet.json()).toEqual({ result: executed.body.result })

    const listed = await post(app, '/api/execute-endpoint', { pythonCode: code })
    const methods = Object.fromEntries(listed.body.endpoints.map((e: any) => [e.endpoint, e.methods]))
    // The parse answer names GET for an @endpoint without methods (as the original's parser did); the live
    // backend also takes a JSON body by POST there, and only the named methods where methods are given.
    expect(methods).toEqual({ '/f': ['GET'], '/only-post': ['POST'] })
    const allowed = async (path: string, method: string) => (await fetch(url + path, { method })).status !== 405
    const accepted = []
    for (const path of ['/f', '/only-post'])
      for (const method of ['GET', 'POST']) accepted.push([path, method, await allowed(path, method)])
    expect(accepted).toEqual([
      ['/f', 'GET', true],
      ['/f', 'POST', true],
      ['/only-post', 'GET', false],
      ['/only-post', 'POST', true],
    ])
    await post(app, '/api/stop-python-server', { port })
  })
})
