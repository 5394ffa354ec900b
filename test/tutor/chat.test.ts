/**
 * The tutor end to end: a real WebSocket (and POST /api/chat) to the real app, its SQLite store in memory, the
 * sample tasks, and a fake OpenAI server that records what the model was sent.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { answer, Feed } from '../support/fake-sse'
import { get } from '../support/http'
import { ANN, BOB, result, saveAttempt, sentText, startTutor, TWO_LEARNERS, type TutorHarness } from './harness'

let harness: TutorHarness | undefined
afterEach(async () => {
  await harness?.stop()
  harness = undefined
})

const ask = (content: string) => [{ role: 'user' as const, content }]
const usage = { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 }
const LEARNER_CODE = 'def ai_move(board, player="O"):\n    return {"position": 0}  # TODO'
const CENTRE = 'The computer takes the centre on an empty board'

/** A 40-line solution, each line distinct, written by a model that was told not to. */
const SOLUTION = [
  'def ai_move(board, player="O"):',
  ...Array.from({ length: 39 }, (_, i) => `    step_${i} = look_at(board, ${i})  # line ${i + 2}`),
]
const SOLUTION_ANSWER = `Here is the whole thing:\n\n\`\`\`python\n${SOLUTION.join('\n')}\n\`\`\`\n\nThat should pass.`

describe('a request about a task', () => {
  test('the model gets the instructions, the failing public test with expected and actual, and the files', async () => {
    harness = startTutor({ openai: [answer('What does your function return on an empty board?')] })
    await saveAttempt(harness.store, 'local', 'tic-tac-toe', [
      result(CENTRE, 'fail', { expected: { position: 4 }, actual: { position: 0 } }),
      result('The computer takes a corner when the centre is taken', 'pass'),
      result('Winning beats blocking', 'fail', { message: 'Hidden test failed', private: true }),
    ])
    const ws = await harness.connect()
    ws.send({
      messages: ask('Why does my test fail?'),
      task: 'tic-tac-toe',
      mode: 'chat',
      files: { backendCode: LEARNER_CODE },
    })
    const frames = await ws.response()
    expect(frames.at(-1)).toEqual({
      type: 'complete',
      content: 'What does your function return on an empty board?',
      generated_code: '',
      usage,
      model: 'gpt-test',
      finish_reason: 'stop',
      conversation_id: expect.any(String),
      hint_level: 1,
    })
    const sent = harness.openai.requests[0]!.body.messages as { role: string; content: string }[]
    expect(sent.map((m) => m.role)).toEqual(['system', 'system', 'user'])
    const text = sentText(harness.openai.requests[0]!)
    expect(text).toContain('`ai_move(board, player="O")` → `{"position": n}`') // the instructions, as text
    expect(text).toContain(
      `- "${CENTRE}" (backend): fail. Wrong result\n  expected: {"position":4}\n  actual: {"position":0}`,
    )
    expect(text).toContain(LEARNER_CODE)
    expect(text).toContain('- "Winning beats blocking": fail')
    expect(text).not.toContain('data:image') // images are their alt text
    expect(sent.at(-1)).toEqual({ role: 'user', content: 'Why does my test fail?' })

    const stored = await harness.store.getConversation(
      { learner: 'local', admin: false },
      frames.at(-1).conversation_id,
    )
    expect(stored).toMatchObject({ task: 'tic-tac-toe', learner: 'local' })
    expect(stored!.messages.map(({ created_at, ...m }) => m)).toEqual([
      { role: 'user', content: 'Why does my test fail?' },
      { role: 'assistant', content: 'What does your function return on an empty board?', hint_level: 1 },
    ])
  })

  test('without files sent, those of the last attempt are used', async () => {
    harness = startTutor({ openai: [answer('Look at line 2.')] })
    await saveAttempt(harness.store, 'local', 'todo-list-app', [result('x', 'fail')], { backendCode: 'SAVED_CODE = 1' })
    const ws = await harness.connect()
    ws.send({ messages: ask('Help'), task: 'Todo List App', mode: 'chat' })
    expect((await ws.response()).at(-1)).toMatchObject({ type: 'complete', hint_level: 1 })
    expect(sentText(harness.openai.requests[0]!)).toContain('learner-file backend.py (attempt)\nSAVED_CODE = 1')
  })

  test('a conversation continues: earlier turns come from the server and the level rises by one', async () => {
    harness = startTutor({
      openai: [answer('First hint.'), answer('Second hint.'), answer('Fourth.'), answer('Next.')],
    })
    const ws = await harness.connect()
    ws.send({ messages: ask('Where do I start?'), task: 'tic-tac-toe', mode: 'chat' })
    const first = (await ws.response()).at(-1)
    expect(first).toMatchObject({ type: 'complete', hint_level: 1 })
    const id = first.conversation_id

    ws.send({ messages: ask('And then?'), conversation_id: id, mode: 'chat' })
    expect((await ws.response()).at(-1)).toMatchObject({ content: 'Second hint.', conversation_id: id, hint_level: 2 })
    const turns = harness.openai.requests[1]!.body.messages.slice(2)
    expect(turns).toEqual([
      { role: 'user', content: 'Where do I start?' },
      { role: 'assistant', content: 'First hint.' },
      { role: 'user', content: 'And then?' },
    ])
    expect(sentText(harness.openai.requests[1]!)).toContain('Hint level 2 of 4')

    // A client that sends the whole history again gets no duplicate turns; an asked-for level wins.
    const again = [...turns, { role: 'assistant', content: 'Second hint.' }, ...ask('Show me')]
    ws.send({ messages: again, conversation_id: id, task: 'tic-tac-toe', mode: 'chat', hint_level: 4 })
    expect((await ws.response()).at(-1)).toMatchObject({ conversation_id: id, hint_level: 4 })
    expect(harness.openai.requests[2]!.body.messages.slice(2)).toEqual(again)

    ws.send({ messages: ask('More?'), conversation_id: id, mode: 'chat' })
    expect((await ws.response()).at(-1)).toMatchObject({ hint_level: 4 }) // capped at 4
    const stored = await harness.store.getConversation({ learner: 'local', admin: false }, id)
    expect(stored!.messages.map((m) => m.hint_level ?? null)).toEqual([null, 1, null, 2, null, 4, null, 4])
  })

  test('a task caps the level at its max_hint_level', async () => {
    harness = startTutor({ openai: [answer('a'), answer('b'), answer('c')] })
    const ws = await harness.connect()
    ws.send({ messages: ask('1'), task: 'strict-task', mode: 'chat' })
    const id = (await ws.response()).at(-1).conversation_id
    ws.send({ messages: ask('2'), conversation_id: id, mode: 'chat' })
    expect((await ws.response()).at(-1)).toMatchObject({ hint_level: 2 })
    ws.send({ messages: ask('3'), conversation_id: id, mode: 'chat', hint_level: 4 })
    expect((await ws.response()).at(-1)).toMatchObject({ hint_level: 2 })
  })
})

describe('teaching, not solving', () => {
  test('a 40-line solution at level 2 reaches the client with no line of its code', async () => {
    harness = startTutor({ openai: [answer(SOLUTION_ANSWER, { pieces: 37 })] })
    const ws = await harness.connect()
    ws.send({ messages: ask('Just write it for me'), task: 'tic-tac-toe', mode: 'chat', hint_level: 2 })
    const frames = await ws.response()
    const complete = frames.at(-1)
    expect(complete).toMatchObject({ type: 'complete', hint_level: 2 })
    for (const frame of frames) {
      const text = frame.type === 'chunk' ? frame.content : `${frame.content}${frame.generated_code}`
      for (const line of SOLUTION) expect(text.includes(line.trim())).toBe(false)
    }
    expect(complete.content).toBe(
      'Here is the whole thing:\n\n_(Code held back: at hint level 2 the tutor explains instead of writing the code. ' +
        'Ask for the next hint if you are stuck.)_\n\nThat should pass.',
    )
    expect(
      frames
        .filter((f) => f.type === 'chunk')
        .map((f) => f.content)
        .join(''),
    ).toBe(complete.content)
  })

  test('at level 4 at most TUTOR_MAX_CODE_LINES lines of it', async () => {
    harness = startTutor({ openai: [answer(SOLUTION_ANSWER, { pieces: 23 })], config: { TUTOR_MAX_CODE_LINES: '5' } })
    const ws = await harness.connect()
    ws.send({ messages: ask('Just write it for me'), task: 'tic-tac-toe', mode: 'chat', hint_level: 4 })
    const frames = await ws.response()
    const shown = SOLUTION.filter((line) => frames.some((f) => `${f.content}`.includes(line)))
    expect(shown).toEqual(SOLUTION.slice(0, 5))
    expect(frames.at(-1).content).toContain('at hint level 4 the tutor shows at most 5 lines')
  })

  test('autocomplete for a task: the code field is held to the level too', async () => {
    const code = SOLUTION.join('\n')
    harness = startTutor({
      openai: [
        answer(JSON.stringify({ code, explanation: 'Done.' })),
        answer(JSON.stringify({ code, explanation: 'Ok.' })),
      ],
    })
    const ws = await harness.connect()
    ws.send({ messages: ask('Fill it in'), task: 'tic-tac-toe', hint_level: 3 })
    const frames = await ws.response()
    expect(frames.some((f) => f.type === 'code_ready')).toBe(false)
    expect(frames.at(-1)).toMatchObject({ type: 'complete', generated_code: '', hint_level: 3 })
    expect(frames.at(-1).content).toStartWith('Done.\n\n_(Code held back')
    expect(harness.openai.requests[0]!.body.response_format.type).toBe('json_schema')

    ws.send({ messages: ask('Fill it in'), task: 'tic-tac-toe', hint_level: 4 })
    const four = await ws.response()
    expect(four[0]).toEqual({ type: 'code_ready', generated_code: SOLUTION.slice(0, 6).join('\n') })
    expect(four.at(-1).generated_code).toBe(SOLUTION.slice(0, 6).join('\n'))
  })

  test('a task with autocomplete false refuses the structured mode with an error frame', async () => {
    harness = startTutor({ openai: [answer('ok')] })
    const ws = await harness.connect()
    ws.send({ messages: ask('Fill it in'), task: 'strict-task' })
    expect(await ws.response()).toEqual([
      {
        type: 'error',
        error_type: 'mode_not_allowed',
        content: 'The task "Strict Task" does not allow the structured (autocomplete) mode; send "mode": "chat"',
      },
    ])
    expect(harness.openai.requests).toHaveLength(0)
  })
})

describe('refusals', () => {
  test('an unknown task is an error frame naming it, and the socket stays open', async () => {
    harness = startTutor({ openai: [answer('Still here.')] })
    const ws = await harness.connect()
    ws.send({ messages: ask('Hi'), task: 'no-such-task', mode: 'chat', id: 7 })
    expect(await ws.response()).toEqual([
      { type: 'error', error_type: 'task_not_found', content: 'Unknown task "no-such-task"', id: 7 },
    ])
    ws.send({ messages: ask('Hi'), task: 'tic-tac-toe', mode: 'chat' })
    expect((await ws.response()).at(-1)).toMatchObject({ type: 'complete', content: 'Still here.' })
  })

  test('hint_level 0 or 5 is a validation error, on the socket and over HTTP', async () => {
    harness = startTutor()
    const ws = await harness.connect()
    for (const hint_level of [0, 5]) {
      ws.send({ messages: ask('Hi'), task: 'tic-tac-toe', hint_level })
      const [frame] = await ws.response()
      expect(frame).toMatchObject({ type: 'error', error_type: 'bad_frame' })
      expect(frame.content).toStartWith('Invalid chat request: /hint_level')
      const reply = await harness.post({ messages: ask('Hi'), task: 'tic-tac-toe', hint_level })
      expect(reply.status).toBe(422)
      expect(reply.body).toMatchObject({ success: false, error_type: 'validation_error' })
    }
    expect(harness.openai.requests).toHaveLength(0)
  })

  test("another learner's conversation_id is an error frame, and 404 over HTTP", async () => {
    harness = startTutor({ openai: [answer('For ann.'), answer('For ann again.')], config: TWO_LEARNERS })
    const ann = await harness.connect(ANN)
    ann.send({ messages: ask('Mine'), task: 'tic-tac-toe', mode: 'chat' })
    const id = (await ann.response()).at(-1).conversation_id

    const bob = await harness.connect(BOB)
    bob.send({ messages: ask('Let me read it'), conversation_id: id, mode: 'chat' })
    expect(await bob.response()).toEqual([
      { type: 'error', error_type: 'conversation_not_found', content: `No conversation "${id}" of yours` },
    ])
    const reply = await harness.post({ messages: ask('Let me read it'), conversation_id: id, mode: 'chat' }, BOB)
    expect(reply.status).toBe(404)
    expect(reply.body).toMatchObject({ success: false, error_type: 'conversation_not_found' })
    expect(harness.openai.requests).toHaveLength(1)

    ann.send({ messages: ask('Still mine'), conversation_id: id, mode: 'chat' })
    expect((await ann.response()).at(-1)).toMatchObject({ content: 'For ann again.', hint_level: 2 })
    const stored = await harness.store.getConversation({ learner: 'ann', admin: false }, id)
    expect(stored!.messages).toHaveLength(4)
  })

  test('without a task, chat is as it was: no conversation, no new fields', async () => {
    harness = startTutor({ openai: [answer('Plain.')] })
    const ws = await harness.connect()
    ws.send({ messages: ask('Hi'), mode: 'chat' })
    expect((await ws.response()).at(-1)).toEqual({
      type: 'complete',
      content: 'Plain.',
      generated_code: '',
      usage,
      model: 'gpt-test',
      finish_reason: 'stop',
    })
    expect(await harness.store.listConversations({ learner: 'local', admin: true }, {})).toEqual([])
  })
})

describe('POST /api/chat', () => {
  test('answers with conversation_id and hint_level, and continues the conversation', async () => {
    harness = startTutor({ openai: [answer('Think about rows.'), answer('Now columns.')] })
    const first = await harness.post({ messages: ask('Help'), task: 'tic-tac-toe', mode: 'chat' })
    expect(first.status).toBe(200)
    expect(first.body).toEqual({
      response: 'Think about rows.',
      generated_code: '',
      usage,
      model: 'gpt-test',
      finish_reason: 'stop',
      conversation_id: expect.any(String),
      hint_level: 1,
    })
    const second = await harness.post({
      messages: ask('More'),
      conversation_id: first.body.conversation_id,
      mode: 'chat',
    })
    expect(second.body).toMatchObject({
      response: 'Now columns.',
      conversation_id: first.body.conversation_id,
      hint_level: 2,
    })

    const listed = await get(harness.app, '/api/conversations?task=tic-tac-toe')
    expect(listed.body.conversations).toEqual([
      expect.objectContaining({ id: first.body.conversation_id, task: 'tic-tac-toe', title: 'Help', messages: 4 }),
    ])
    const read = await get(harness.app, `/api/conversations/${first.body.conversation_id}`)
    expect(read.body.messages.map((m: { role: string; hint_level?: number }) => [m.role, m.hint_level])).toEqual([
      ['user', undefined],
      ['assistant', 1],
      ['user', undefined],
      ['assistant', 2],
    ])
  })

  test('an unknown task is 404 naming it', async () => {
    harness = startTutor()
    const reply = await harness.post({ messages: ask('Hi'), task: 'nope' })
    expect(reply.status).toBe(404)
    expect(reply.body).toMatchObject({ success: false, error_type: 'task_not_found', error: 'Unknown task "nope"' })
  })
})

test('the token budget per learner counts tutored requests', async () => {
  harness = startTutor({
    openai: [answer('One.', { usage: { prompt: 900, completion: 200 } }), answer('Two.')],
    config: { AI_TOKENS_PER_DAY: '1000' },
  })
  const ws = await harness.connect()
  ws.send({ messages: ask('1'), task: 'tic-tac-toe', mode: 'chat' })
  expect((await ws.response()).at(-1)).toMatchObject({ type: 'complete', hint_level: 1 })
  ws.send({ messages: ask('2'), task: 'tic-tac-toe', mode: 'chat' })
  expect(await ws.response()).toEqual([expect.objectContaining({ type: 'error', error_type: 'quota_exceeded' })])
  expect(harness.openai.requests).toHaveLength(1)
})

test('cancel mid-answer still stores what the learner was sent', async () => {
  const feed = new Feed().push('Half a th')
  harness = startTutor({ openai: [feed] })
  const ws = await harness.connect()
  ws.send({ messages: ask('Hi'), task: 'tic-tac-toe', mode: 'chat' })
  expect(await ws.next()).toEqual({ type: 'chunk', content: 'Half a th' })
  ws.send({ type: 'cancel' })
  const complete = (await ws.response()).at(-1)
  expect(complete).toMatchObject({ type: 'complete', cancelled: true, content: 'Half a th', hint_level: 1 })
  const stored = await harness.store.getConversation({ learner: 'local', admin: false }, complete.conversation_id)
  expect(stored!.messages.at(-1)).toMatchObject({ role: 'assistant', content: 'Half a th' })
})
