/**
 * /ws/chat end to end: a real WebSocket to the real app, whose real OpenAI / Anthropic adapters talk to fake
 * servers on loopback speaking the vendors' SSE formats. Ordering is asserted on events, never on time.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { answer, Feed } from '../support/fake-sse'
import { ANTHROPIC_KEY, ask, OPENAI_KEY, startChat, structured, type ChatHarness } from './harness'

let harness: ChatHarness | undefined
afterEach(async () => {
  await harness?.stop()
  harness = undefined
})

const usage = { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 }
const ANSWER = structured('print(1)', 'It prints one.')

describe.each([
  ['OpenAI', 'gpt-test', 'stop'],
  ['Anthropic', 'claude-test', 'end_turn'],
] as const)('%s', (vendor, model, reason) => {
  const script = (replies: Feed[]) => (vendor === 'OpenAI' ? { openai: replies } : { anthropic: replies })
  const upstream = () => (vendor === 'OpenAI' ? harness!.openai : harness!.anthropic)

  test('autocomplete: code_ready, the explanation as chunks, then complete with both', async () => {
    harness = startChat(script([answer(ANSWER, { pieces: 4 })]))
    const ws = await harness.connect()
    ws.send({ messages: ask('Print one'), model })
    expect(await ws.response()).toEqual([
      { type: 'code_ready', generated_code: 'print(1)' },
      { type: 'chunk', content: 'It pr' },
      { type: 'chunk', content: 'ints one.' },
      { type: 'complete', content: 'It prints one.', generated_code: 'print(1)', usage, model, finish_reason: reason },
    ])
  })

  test('chat mode: the text as chunks, then complete with an empty generated_code', async () => {
    harness = startChat(script([answer('Use a loop.', { pieces: 3 })]))
    const ws = await harness.connect()
    ws.send({ messages: ask('How?'), model, mode: 'chat' })
    expect(await ws.response()).toEqual([
      { type: 'chunk', content: 'Use ' },
      { type: 'chunk', content: 'a lo' },
      { type: 'chunk', content: 'op.' },
      { type: 'complete', content: 'Use a loop.', generated_code: '', usage, model, finish_reason: reason },
    ])
    const [sent] = upstream().requests
    const system = vendor === 'OpenAI' ? sent!.body.messages[0] : { role: 'system', content: sent!.body.system }
    expect(system.role).toBe('system')
    expect(system.content).toContain('tutor')
  })

  test('autocomplete: a model that ignores the format and answers in prose is relayed as prose', async () => {
    harness = startChat(script([answer('Just use print.', { pieces: 2 })]))
    const ws = await harness.connect()
    ws.send({ messages: ask('Print one'), model })
    expect(await ws.response()).toEqual([
      { type: 'chunk', content: 'Just use' },
      { type: 'chunk', content: ' print.' },
      { type: 'complete', content: 'Just use print.', generated_code: '', usage, model, finish_reason: reason },
    ])
  })

  test('code_ready and the first chunk arrive while the upstream is still streaming', async () => {
    const feed = new Feed().push('{"code":"x = 1",', '"explanation":"Sets')
    harness = startChat(script([feed]))
    const ws = await harness.connect()
    ws.send({ messages: ask('Set x'), model })
    expect(await ws.next()).toEqual({ type: 'code_ready', generated_code: 'x = 1' })
    expect(await ws.next()).toEqual({ type: 'chunk', content: 'Sets' })
    feed.push(' x."}').finish()
    expect(await ws.response()).toEqual([
      { type: 'chunk', content: ' x.' },
      expect.objectContaining({ type: 'complete', content: 'Sets x.', generated_code: 'x = 1' }),
    ])
  })

  test('cancel ends the answer with the partial content and aborts the upstream request', async () => {
    const feed = new Feed().push('Partial an')
    harness = startChat(script([feed, answer('Next.')]))
    const ws = await harness.connect()
    ws.send({ messages: ask('Long answer please'), model, mode: 'chat', id: 'r1' })
    expect(await ws.next()).toEqual({ type: 'chunk', content: 'Partial an', id: 'r1' })
    ws.send({ type: 'cancel' })
    expect(await ws.next()).toEqual({
      type: 'complete',
      content: 'Partial an',
      generated_code: '',
      model,
      finish_reason: 'cancelled',
      cancelled: true,
      id: 'r1',
    })
    await feed.cancelled
    // The connection goes on serving.
    ws.send({ messages: ask('Again'), model, mode: 'chat', id: 'r2' })
    expect((await ws.response()).at(-1)).toMatchObject({ type: 'complete', content: 'Next.', id: 'r2' })
  })

  test('closing the socket aborts the upstream request', async () => {
    const feed = new Feed().push('{"code":"')
    harness = startChat(script([feed]))
    const ws = await harness.connect()
    ws.send({ messages: ask('Hi'), model })
    await feed.started
    await ws.close()
    await feed.cancelled
    expect(feed.isCancelled).toBe(true)
  })

  test('an upstream 401 is one error frame without the key, and the connection stays open', async () => {
    harness = startChat(
      script([
        {
          status: 401,
          message: `Incorrect API key provided: ${vendor === 'OpenAI' ? OPENAI_KEY : ANTHROPIC_KEY}`,
        } as any,
        answer('Fine now.'),
      ]),
    )
    const ws = await harness.connect()
    ws.send({ messages: ask('Hi'), model, id: 7 })
    const frames = await ws.response()
    expect(frames).toEqual([
      {
        type: 'error',
        content: 'The model API answered 401: Incorrect API key provided: [redacted]',
        error_type: 'upstream_error',
        id: 7,
      },
    ])
    expect(JSON.stringify(frames)).not.toContain('test-0123456789')
    ws.send({ messages: ask('Hi'), model, mode: 'chat' })
    expect((await ws.response()).at(-1)).toMatchObject({ type: 'complete', content: 'Fine now.' })
  })

  test('an upstream 500 is one error frame (no SDK retries)', async () => {
    harness = startChat(script([{ status: 500, message: 'The server had an error' } as any]))
    const ws = await harness.connect()
    ws.send({ messages: ask('Hi'), model })
    expect(await ws.response()).toEqual([
      { type: 'error', content: 'The model API answered 500: The server had an error', error_type: 'upstream_error' },
    ])
    expect(upstream().requests).toHaveLength(1)
  })

  test('a stream cut mid-way ends with one error frame after the chunks that arrived', async () => {
    harness = startChat(script([new Feed().push('Half of').cut()]))
    const ws = await harness.connect()
    ws.send({ messages: ask('Hi'), model, mode: 'chat' })
    expect(await ws.response()).toEqual([
      { type: 'chunk', content: 'Half of' },
      {
        type: 'error',
        content: 'The model API stream ended before the answer was complete',
        error_type: 'upstream_error',
      },
    ])
  })

  test('an error event inside the stream ends with one error frame', async () => {
    harness = startChat(script([new Feed().push('Half').fail('Overloaded')]))
    const ws = await harness.connect()
    ws.send({ messages: ask('Hi'), model, mode: 'chat' })
    const frames = await ws.response()
    expect(frames.map((f) => f.type)).toEqual(['chunk', 'error'])
    expect(frames[1].content).toContain('Overloaded')
  })

  test('proactive: the last user message carries the current code, exactly once', async () => {
    harness = startChat(script([answer(ANSWER)]))
    const ws = await harness.connect()
    const messages = [
      { role: 'user', content: 'First question' },
      { role: 'assistant', content: 'First answer' },
      { role: 'user', content: 'Why does it fail?' },
    ]
    ws.send({ messages, model, proactive: true, current_code: 'print(x)' })
    await ws.response()
    const sent = upstream().requests[0]!.body.messages as { role: string; content: string }[]
    const wire = sent.filter((m) => m.role !== 'system')
    expect(wire).toEqual([
      { role: 'user', content: 'First question' },
      { role: 'assistant', content: 'First answer' },
      { role: 'user', content: 'Code:\nprint(x)\n\nMessage:\nWhy does it fail?' },
    ])
    expect(JSON.stringify(upstream().requests[0]!.body).split('print(x)')).toHaveLength(2)
  })
})

describe('what goes over the wire', () => {
  test('OpenAI: streaming with usage, strict JSON schema for autocomplete, the key as a bearer token', async () => {
    harness = startChat({ openai: [answer(ANSWER)] })
    const ws = await harness.connect()
    ws.send({ messages: ask('Hi'), max_tokens: 300 })
    await ws.response()
    const [{ body, headers }] = harness.openai.requests as [any]
    expect(body).toMatchObject({
      model: 'gpt-test',
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 300,
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'code_and_explanation',
          strict: true,
          schema: expect.objectContaining({ required: ['code', 'explanation'] }),
        },
      },
    })
    expect(headers.get('authorization')).toBe(`Bearer ${OPENAI_KEY}`)
  })

  test('Anthropic: Messages streaming, system prompt on top, structured output through a forced tool', async () => {
    harness = startChat({ anthropic: [answer(ANSWER)] })
    const ws = await harness.connect()
    ws.send({ messages: ask('Hi'), model: 'claude-test' })
    await ws.response()
    const [{ body, headers }] = harness.anthropic.requests as [any]
    expect(body).toMatchObject({
      model: 'claude-test',
      stream: true,
      max_tokens: 4096,
      system: expect.stringContaining('"code"'),
      messages: [{ role: 'user', content: 'Hi' }],
      tools: [
        { name: 'code_and_explanation', input_schema: expect.objectContaining({ required: ['code', 'explanation'] }) },
      ],
      tool_choice: { type: 'tool', name: 'code_and_explanation' },
    })
    // This SDK version sends the key as a bearer token (older ones used x-api-key).
    expect(headers.get('authorization')).toBe(`Bearer ${ANTHROPIC_KEY}`)
  })

  test('Anthropic: chat mode asks for no tool and reads text deltas', async () => {
    harness = startChat({ anthropic: [answer('Plain.', { pieces: 2 })] })
    const ws = await harness.connect()
    ws.send({ messages: ask('Hi'), model: 'claude-test', mode: 'chat' })
    expect(await ws.response()).toEqual([
      { type: 'chunk', content: 'Pla' },
      { type: 'chunk', content: 'in.' },
      {
        type: 'complete',
        content: 'Plain.',
        generated_code: '',
        usage,
        model: 'claude-test',
        finish_reason: 'end_turn',
      },
    ])
    const [{ body }] = harness.anthropic.requests as [any]
    expect([body.tools, body.tool_choice]).toEqual([undefined, undefined])
  })
})

describe('one connection', () => {
  test('serves many requests in order, each frame carrying its id', async () => {
    harness = startChat({ openai: [answer('One.', { pieces: 1 }), answer('Two.', { pieces: 1 })] })
    const ws = await harness.connect()
    ws.send({ messages: ask('1'), mode: 'chat', id: 'a' })
    ws.send({ messages: ask('2'), mode: 'chat', id: 'b' })
    const first = await ws.response()
    const second = await ws.response()
    expect(first.map((f) => [f.type, f.id, f.content])).toEqual([
      ['chunk', 'a', 'One.'],
      ['complete', 'a', 'One.'],
    ])
    expect(second.map((f) => [f.type, f.id, f.content])).toEqual([
      ['chunk', 'b', 'Two.'],
      ['complete', 'b', 'Two.'],
    ])
  })

  test('cancel with the id of a queued request drops it without calling the model', async () => {
    const feed = new Feed().push('Busy')
    harness = startChat({ openai: [feed] })
    const ws = await harness.connect()
    ws.send({ messages: ask('1'), mode: 'chat', id: 'a' })
    ws.send({ messages: ask('2'), mode: 'chat', id: 'b' })
    expect(await ws.next()).toMatchObject({ type: 'chunk', id: 'a' })
    ws.send({ type: 'cancel', id: 'b' })
    expect(await ws.next()).toEqual({ type: 'complete', content: '', generated_code: '', cancelled: true, id: 'b' })
    feed.finish()
    expect(await ws.next()).toMatchObject({ type: 'complete', id: 'a', content: 'Busy' })
    expect(harness.openai.requests).toHaveLength(1)
  })

  test('bad frames get an error frame and the connection stays open', async () => {
    harness = startChat({ openai: [answer('Still here.', { pieces: 1 })] })
    const ws = await harness.connect()
    const bad: [unknown, string][] = [
      ['{not json', 'Frames must be JSON text'],
      ['hello', 'Frames must be JSON text'],
      ['[1,2]', 'A frame must be a JSON object'],
      [{ content: 'no messages' }, 'Invalid chat request: /messages'],
      [{ messages: [{ role: 'robot', content: 'hi' }] }, 'Invalid chat request: /messages/0/role'],
      [{ messages: [] }, 'Invalid chat request: /messages'],
      [{ messages: ask('hi'), mode: 'poem' }, 'Invalid chat request: /mode'],
      [{ type: 'subscribe', id: 'x' }, 'Unknown frame type "subscribe"'],
    ]
    for (const [frame, message] of bad) {
      ws.send(frame)
      const reply = await ws.next()
      expect(reply).toMatchObject({ type: 'error', error_type: 'bad_frame' })
      expect(reply.content).toStartWith(message)
    }
    ws.send({ messages: ask('hi'), mode: 'chat' })
    expect((await ws.response()).at(-1)).toMatchObject({ type: 'complete', content: 'Still here.' })
    expect(harness.openai.requests).toHaveLength(1)
  })

  test('a model whose provider is not configured is an error frame, not a crash', async () => {
    harness = startChat({ config: { ANTHROPIC_API_KEY: '' } })
    const ws = await harness.connect()
    ws.send({ messages: ask('hi'), model: 'claude-test', id: 1 })
    expect(await ws.response()).toEqual([
      {
        type: 'error',
        content: 'Model claude-test needs Anthropic, which is not configured (set ANTHROPIC_API_KEY)',
        error_type: 'provider_unavailable',
        id: 1,
      },
    ])
  })
})

describe('two connections', () => {
  test('never see each other’s content, even when their answers interleave', async () => {
    const feeds = { alice: new Feed(), bob: new Feed() }
    harness = startChat({
      openai: (request) => (JSON.stringify(request.body.messages).includes('alice') ? feeds.alice : feeds.bob),
    })
    const [alice, bob] = await Promise.all([harness.connect(), harness.connect()])
    alice.send({ messages: ask('I am alice') })
    bob.send({ messages: ask('I am bob') })
    await Promise.all([feeds.alice.started, feeds.bob.started])
    feeds.alice.push('{"code":"alice_code()","explanation":"For ')
    feeds.bob.push('{"code":"bob_code()","explanation":"For ')
    expect(await alice.next()).toEqual({ type: 'code_ready', generated_code: 'alice_code()' })
    expect(await bob.next()).toEqual({ type: 'code_ready', generated_code: 'bob_code()' })
    feeds.bob.push('bob."}').finish()
    feeds.alice.push('alice."}').finish()
    const [a, b] = await Promise.all([alice.response(), bob.response()])
    expect(a.at(-1)).toMatchObject({ content: 'For alice.', generated_code: 'alice_code()' })
    expect(b.at(-1)).toMatchObject({ content: 'For bob.', generated_code: 'bob_code()' })
    expect(JSON.stringify(alice.frames)).not.toContain('bob')
    expect(JSON.stringify(bob.frames)).not.toContain('alice')
  })
})
