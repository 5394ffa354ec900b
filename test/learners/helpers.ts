/** Requests as the learner routes' clients send them: with a bearer key, and DELETE without a body. */
import { SignJWT } from 'jose'

interface Handler {
  handle(request: Request): Promise<Response> | Response
}

export const JWT_SECRET = 'a-test-secret-of-at-least-thirty-two-characters'

/** An HS256 token for `sub`, valid for an hour. */
export const tokenFor = (sub: string) =>
  new SignJWT({ sub })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(JWT_SECRET))

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` })

/** A DELETE as browsers and curl send it: no body, so no Content-Type. */
export async function del(app: Handler, path: string, headers: Record<string, string> = {}) {
  const response = await app.handle(new Request(`http://localhost${path}`, { method: 'DELETE', headers }))
  const text = await response.text()
  return { status: response.status, body: text ? JSON.parse(text) : text }
}

/** Reads a whole event stream of a GET. */
export async function getEvents(app: Handler, path: string, headers: Record<string, string> = {}) {
  const response = await app.handle(
    new Request(`http://localhost${path}`, { headers: { accept: 'text/event-stream', ...headers } }),
  )
  const text = await response.text()
  return { status: response.status, type: response.headers.get('content-type'), text }
}
