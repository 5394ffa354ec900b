/** Tiny helpers to talk to an app the way clients do, in process through `app.handle`. */
interface Handler {
  handle(request: Request): Promise<Response> | Response
}

export interface Reply<T = any> {
  status: number
  headers: Headers
  body: T
}

async function send<T>(app: Handler, request: Request): Promise<Reply<T>> {
  const response = await app.handle(request)
  const text = await response.text()
  const isJson = response.headers.get('content-type')?.includes('json')
  return { status: response.status, headers: response.headers, body: (isJson && text ? JSON.parse(text) : text) as T }
}

export const get = <T = any>(app: Handler, path: string, headers: Record<string, string> = {}) =>
  send<T>(app, new Request(`http://localhost${path}`, { headers }))

/** POSTs `body` as JSON (a string is sent as it is). */
export const post = <T = any>(app: Handler, path: string, body: unknown, headers: Record<string, string> = {}) =>
  send<T>(
    app,
    new Request(`http://localhost${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    }),
  )

/** Sends `text` as it is over a new TCP connection to 127.0.0.1:`port` and resolves with everything answered. */
export const rawRequest = (port: number, text: string) =>
  new Promise<string>((resolve) => {
    let reply = ''
    Bun.connect({
      hostname: '127.0.0.1',
      port,
      socket: {
        open: (socket) => void socket.write(text),
        data: (_, chunk) => void (reply += chunk.toString()),
        close: () => resolve(reply),
      },
    })
  })

/** Parses a whole `text/event-stream` body into its events. */
export function parseEvents(text: string): { event: string; data: any }[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim())
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message'
      const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? 'null')
      return { event, data }
    })
}

/**
 * POSTs `body` as JSON asking for server-sent events and reads the whole stream: the status, the headers, the body
 * as text and its events.
 */
export async function postEvents(app: Handler, path: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await app.handle(
    new Request(`http://localhost${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
      body: JSON.stringify(body),
    }),
  )
  const text = await response.text()
  return { status: response.status, headers: response.headers, text, events: parseEvents(text) }
}
