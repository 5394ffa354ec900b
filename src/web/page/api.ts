/**
 * The page's only way to the server: every fetch and the chat WebSocket go through here. It adds the access key
 * (sessionStorage; `Authorization: Bearer` on requests, `?token=` on the socket), turns the error envelope
 * into an ApiError, reads the event streams of Run tests and Grade, and tells the page (apiEvents) when the
 * server wants a key (401) or asks it to slow down (429).
 */
import type { ChatFrame, ChatRequest, Json, StreamedResult } from './types'

const KEY_STORAGE = 'playground.access-key'

export const accessKey = {
  get: (): string => sessionStorage.getItem(KEY_STORAGE) ?? '',
  set: (key: string) => sessionStorage.setItem(KEY_STORAGE, key),
  clear: () => sessionStorage.removeItem(KEY_STORAGE),
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    /** Seconds, from Retry-After (429, 503). */
    readonly retryAfter?: number,
  ) {
    super(message)
  }
}

/** `unauthorized` (detail: the server's sentence) and `rate-limited` (detail: seconds to wait). */
export const apiEvents = new EventTarget()

function announce(error: ApiError) {
  if (error.status === 401) apiEvents.dispatchEvent(new CustomEvent('unauthorized', { detail: error.message }))
  if (error.status === 429) apiEvents.dispatchEvent(new CustomEvent('rate-limited', { detail: error.retryAfter }))
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const key = accessKey.get()
  return { ...(key ? { authorization: `Bearer ${key}` } : {}), ...extra }
}

async function failure(response: Response): Promise<ApiError> {
  const retry = Number(response.headers.get('retry-after'))
  let message = `The server answered ${response.status}`
  let type = 'http_error'
  try {
    const body = (await response.json()) as { error?: unknown; error_type?: unknown }
    if (typeof body.error === 'string') message = body.error
    if (typeof body.error_type === 'string') type = body.error_type
  } catch {
    // not the envelope: keep the status line
  }
  const error = new ApiError(response.status, type, message, Number.isFinite(retry) && retry > 0 ? retry : undefined)
  announce(error)
  return error
}

async function send(method: string, path: string, body?: unknown, accept = 'application/json'): Promise<Response> {
  let response: Response
  try {
    response = await fetch(path, {
      method,
      headers: headers({ accept, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }),
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  } catch {
    throw new ApiError(0, 'network_error', 'The server cannot be reached')
  }
  if (!response.ok) throw await failure(response)
  return response
}

const json = async <T>(method: string, path: string, body?: unknown): Promise<T> =>
  (await (await send(method, path, body)).json()) as T

/** One `event:`/`data:` block of a server-sent-events body. */
export function parseEvent(block: string): { event: string; data: string } {
  let event = 'message'
  const data: string[] = []
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) event = line.slice(6).trim()
    else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''))
  }
  return { event, data: data.join('\n') }
}

/** POSTs and reads the answer as an event stream: `onResult` per `result` event; resolves with the `summary`. */
async function stream<S>(path: string, body: unknown, onResult: (result: StreamedResult) => void): Promise<S> {
  const response = await send('POST', path, body, 'text/event-stream')
  if (!response.body) throw new ApiError(0, 'stream_error', 'The server sent no results')
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) break
    buffer += value.replaceAll('\r\n', '\n')
    let end: number
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const { event, data } = parseEvent(buffer.slice(0, end))
      buffer = buffer.slice(end + 2)
      if (event === 'result') onResult(JSON.parse(data))
      else if (event === 'summary') return JSON.parse(data) as S
      else if (event === 'error') {
        const envelope = JSON.parse(data) as { error?: string; error_type?: string }
        throw new ApiError(500, envelope.error_type ?? 'stream_error', envelope.error ?? 'The run failed')
      }
    }
  }
  throw new ApiError(0, 'stream_error', 'The server ended the results early')
}

const query = (params: Record<string, string | undefined>) => {
  const search = new URLSearchParams()
  for (const [name, value] of Object.entries(params)) if (value) search.set(name, value)
  const text = search.toString()
  return text ? `?${text}` : ''
}

export const api = {
  tasks: () => json<{ tasks: { name: string; slug: string; summary: string }[] }>('GET', '/tasks'),
  task: (slug: string) => json<Json>('GET', `/tasks/${encodeURIComponent(slug)}`),
  endpoints: (pythonCode: string) => json<Json>('POST', '/api/execute-endpoint', { pythonCode }),
  call: (pythonCode: string, endpoint: string, args: Json) =>
    json<Json>('POST', '/api/execute-endpoint', { pythonCode, endpoint, args }),
  runTests: (body: Json, onResult: (result: StreamedResult) => void) =>
    stream<Json>('/api/execute-test-cases', body, onResult),
  grade: (body: Json, onResult: (result: StreamedResult) => void) => stream<Json>('/api/grade', body, onResult),
  attempts: (task: string) => json<Json>('GET', `/api/attempts${query({ task, limit: '50' })}`),
  attempt: (id: string) => json<Json>('GET', `/api/attempts/${encodeURIComponent(id)}`),
  progress: () => json<Json>('GET', '/api/progress'),
  conversations: (task: string) => json<Json>('GET', `/api/conversations${query({ task })}`),
  conversation: (id: string) => json<Json>('GET', `/api/conversations/${encodeURIComponent(id)}`),
  classProgress: (task?: string) => json<Json>('GET', `/api/admin/progress${query({ task })}`),
  gradesCsv: async (task?: string) =>
    (await send('GET', `/api/admin/grades.csv${query({ task })}`, undefined, 'text/csv')).blob(),
}

export interface ChatHandlers {
  frame(frame: ChatFrame): void
  /** The socket's state in words, for the page to show ('' once all is well again). */
  status(text: string): void
  /** The server closed the socket for want of a valid key (4401). */
  unauthorized(): void
}

const CLOSE_UNAUTHORIZED = 4401
const CLOSE_QUOTA = 4429
const MAX_BACKOFF_MS = 15_000

/**
 * The tutor's socket: opened on first use, frames queued until it is open. A socket lost after it had opened is
 * opened again after 0.5 s, 1 s, 2 s … (at most 15 s), and the page is told so; a request in flight when it
 * was lost ends with an error frame of its own.
 */
export class ChatSocket {
  private socket: WebSocket | undefined
  private queue: string[] = []
  private inFlight = new Set<string>()
  private failures = 0
  private timer: ReturnType<typeof setTimeout> | undefined

  constructor(private readonly handlers: ChatHandlers) {}

  send(request: ChatRequest & { id: string }) {
    this.inFlight.add(request.id)
    this.queue.push(JSON.stringify(request))
    if (this.socket?.readyState === WebSocket.OPEN) this.flush()
    else if (!this.socket && this.timer === undefined) this.open()
  }

  cancel(id: string) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify({ type: 'cancel', id }))
  }

  /** After a new key: a socket refused for its key may try again. */
  reset() {
    this.socket?.close()
    this.socket = undefined
    this.failures = 0
  }

  private flush() {
    for (const frame of this.queue.splice(0)) this.socket!.send(frame)
  }

  private open() {
    const url = new URL('/ws/chat', location.href)
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:'
    const key = accessKey.get()
    if (key) url.searchParams.set('token', key)
    const socket = new WebSocket(url)
    this.socket = socket
    let opened = false
    socket.onopen = () => {
      opened = true
      if (this.failures > 0) this.handlers.status('Reconnected to the tutor.')
      this.failures = 0
      this.flush()
    }
    socket.onmessage = (event) => {
      let frame: ChatFrame
      try {
        frame = JSON.parse(String(event.data)) as ChatFrame
      } catch {
        return
      }
      if (frame.type === 'complete' || frame.type === 'error') this.inFlight.delete(String(frame.id))
      this.handlers.frame(frame)
    }
    socket.onclose = (event) => {
      if (this.socket !== socket) return
      this.socket = undefined
      for (const id of this.inFlight)
        this.handlers.frame({ type: 'error', id, content: 'The connection to the tutor was lost.' })
      this.inFlight.clear()
      this.queue = []
      if (event.code === CLOSE_UNAUTHORIZED) return this.handlers.unauthorized()
      if (event.code === CLOSE_QUOTA)
        return this.handlers.status('Too many open connections to the tutor; close another tab and try again.')
      if (!opened && this.failures === 0) {
        this.failures = 1
        return this.handlers.status('The tutor cannot be reached.')
      }
      this.reconnect()
    }
  }

  private reconnect() {
    const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.failures)
    this.failures += 1
    this.handlers.status(`Connection to the tutor lost. Reconnecting in ${Math.ceil(delay / 1000)} s…`)
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.open()
    }, delay)
  }
}
