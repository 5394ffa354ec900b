/**
 * No input, expected value or step of a private test of the sample tasks reaches the model, in chat, in
 * autocomplete or in the judge. The fake OpenAI server records every request body; the learner's last attempt is
 * stored in the worst form we can think of (private results unredacted and not marked private, as a careless
 * writer of attempts might keep them), so the tutor has to leave them out on its own.
 */
import { describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { instructionsText } from '../../src/tutor/html-text'
import { answer } from '../support/fake-sse'
import { post } from '../support/http'
import { diskTests, frontEnd, texts } from '../grading/disk'
import { fakeBrowser } from '../grading/fake-browser'
import { result, SAMPLE_SLUGS, SAMPLES, saveAttempt, startTutor } from './harness'

const squash = (text: string) => text.replace(/\s+/g, '')

/** Every string anywhere in a request body (message texts, image parts, schema), squashed. */
function bodyStrings(value: unknown): string[] {
  if (typeof value === 'string') return [squash(value)]
  if (Array.isArray(value)) return value.flatMap(bodyStrings)
  if (value && typeof value === 'object') return Object.values(value).flatMap(bodyStrings)
  return []
}

describe.each(SAMPLE_SLUGS)('%s', (slug) => {
  const groups = (['backend', 'frontend', 'html'] as const).map((group) => ({ group, tests: diskTests(slug, group) }))
  const all = groups.flatMap(({ group, tests }) => tests.map((t) => ({ ...t, group })))
  const hidden = all.filter((t) => t.public === false)
  const starter = frontEnd(slug, 'starter')
  const backend = readFileSync(join(SAMPLES, slug, 'starter/backend.py'), 'utf8')
  // What may legitimately reach the model: the instructions, public tests, the learner's (starter) files.
  const manifest = readFileSync(join(SAMPLES, slug, 'instructions.html'), 'utf8')
  const allowed = squash(
    [
      instructionsText(manifest),
      JSON.stringify(all.filter((t) => t.public !== false)),
      backend,
      ...Object.values(starter),
    ].join('\n'),
  )
  const secrets = [
    ...new Set(
      hidden
        .flatMap((t) => [...texts(t.input ?? null), ...texts(t.expected ?? null), ...(t.steps ?? []).flatMap(texts)])
        .map(squash)
        .filter((s) => s.length >= 5 && !allowed.includes(s)),
    ),
  ]

  test('no private input, expected value or step in any request of chat, autocomplete or the judge', async () => {
    expect(hidden.length).toBeGreaterThan(0)
    expect(secrets.length).toBeGreaterThanOrEqual(5)
    const browser = fakeBrowser()
    const harness = startTutor({
      browser,
      config: { JUDGE_MODEL: 'gpt-test' },
      openai: (request) => {
        if (request.body.response_format?.json_schema?.name === 'judgment')
          return answer('{"judgment":"pass","explanation":"It looks right."}')
        if (request.body.response_format) return answer('{"code":"","explanation":"What should happen first?"}')
        return answer('What should happen first?')
      },
    })
    try {
      await saveAttempt(
        harness.store,
        'local',
        slug,
        all.map((t) =>
          t.public === false
            ? result(t.name, 'fail', {
                group: t.group,
                message: JSON.stringify(t.input ?? t.steps ?? null),
                expected: (t.expected ?? t.steps ?? null) as never,
                actual: (t.input ?? null) as never,
              })
            : result(t.name, 'fail', { group: t.group, expected: (t.expected ?? null) as never, actual: 'wrong' }),
        ),
        { backendCode: backend, frontendCode: starter },
      )
      const files = { backendCode: backend, frontendCode: starter }
      const ws = await harness.connect()
      for (const mode of ['chat', 'autocomplete']) {
        ws.send({ messages: [{ role: 'user', content: 'Why do my tests fail?' }], task: slug, mode, files })
        expect((await ws.response()).at(-1)).toMatchObject({ type: 'complete' })
        ws.send({ messages: [{ role: 'user', content: 'And the hidden ones?' }], task: slug, mode, hint_level: 4 })
        expect((await ws.response()).at(-1)).toMatchObject({ type: 'complete', hint_level: 4 })
      }
      const graded = await post(harness.app, '/api/grade', {
        task: slug,
        frontendCode: starter,
        include_private: true,
        save: false,
      })
      expect(graded.status).toBe(200)

      const requests = harness.openai.requests
      const judged = requests.filter((r) => r.body.response_format?.json_schema?.name === 'judgment')
      expect(judged.length).toBe(groups.find((g) => g.group === 'html')!.tests.length)
      expect(requests.length).toBe(4 + judged.length)
      // The check sees what the tutor was given: the public failures are there.
      const firstPublic = all.find((t) => t.public !== false && t.expected !== undefined)
      if (firstPublic)
        expect(bodyStrings(requests[0]!.body).join('\n')).toContain(squash(JSON.stringify(firstPublic.expected)))

      const leaks = secrets.filter((secret) =>
        requests.some((r) => bodyStrings(r.body).some((s) => s.includes(secret))),
      )
      expect(leaks).toEqual([])
    } finally {
      await harness.stop()
    }
  })
})
