/**
 * A fake OpenAI chat-completions server on 127.0.0.1, port 0. It answers like the real API (SSE chunks ending
 * in `data: [DONE]` when `stream: true`, one JSON completion otherwise, the error envelope for failures) and
 * records every request body, so a test can assert what we sent. Script it per test with a list of replies.
 *
 * @example
 * const fake = startFakeVision([{ content: '{"judgment":"pass","explanation":"ok"}' }])
 * const config = testConfig({ OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: 'sk-test' })
 */
export type FakeReply = { content: string; finishReason?: string } | { status: number; message: string; type?: string }

export interface FakeVision {
  /** Base URL to use as OPENAI_BASE_URL (ends in /v1). */
  url: string
  /** Bodies of the chat-completion requests received, in order. */
  requests: Record<string, any>[]
  headers: Headers[]
  stop(): void
}

const encoder = new TextEncoder()

function sse(reply: { content: string; finishReason?: string }, model: string): Response {
  const id = `chatcmpl-${crypto.randomUUID()}`
  const created = Math.floor(Date.now() / 1000)
  const chunk = (delta: Record<string, unknown>, finish_reason: string | null) =>
    `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason }] })}\n\n`
  // Split the answer in a few pieces so the client has to put it back together.
  const size = Math.max(1, Math.ceil(reply.content.length / 4))
  const pieces: string[] = [chunk({ role: 'assistant', content: '' }, null)]
  for (let i = 0; i < reply.content.length; i += size)
    pieces.push(chunk({ content: reply.content.slice(i, i + size) }, null))
  pieces.push(chunk({}, reply.finishReason ?? 'stop'), 'data: [DONE]\n\n')
  const body = new ReadableStream({
    start(controller) {
      for (const piece of pieces) controller.enqueue(encoder.encode(piece))
      controller.close()
    },
  })
  return new Response(body, { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } })
}

function completion(reply: { content: string; finishReason?: string }, model: string): Response {
  return Response.json({
    id: `chatcmpl-${crypto.randomUUID()}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      { index: 0, message: { role: 'assistant', content: reply.content }, finish_reason: reply.finishReason ?? 'stop' },
    ],
    usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
  })
}

/** Starts the server; replies are used in order, and a request beyond the script gets a 500. */
export function startFakeVision(replies: FakeReply[]): FakeVision {
  const requests: Record<string, any>[] = []
  const headers: Headers[] = []
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(request) {
      const path = new URL(request.url).pathname
      if (request.method !== 'POST' || !path.endsWith('/chat/completions')) {
        return Response.json({ error: { message: `No route ${path}`, type: 'invalid_request_error' } }, { status: 404 })
      }
      const body = (await request.json()) as Record<string, any>
      requests.push(body)
      headers.push(request.headers)
      const reply = replies[requests.length - 1] ?? { status: 500, message: 'The fake has no more scripted replies' }
      if ('status' in reply) {
        return Response.json(
          { error: { message: reply.message, type: reply.type ?? 'server_error', param: null, code: null } },
          { status: reply.status },
        )
      }
      return body.stream ? sse(reply, body.model) : completion(reply, body.model)
    },
  })
  return { url: `http://127.0.0.1:${server.port}/v1`, requests, headers, stop: () => server.stop(true) }
}
