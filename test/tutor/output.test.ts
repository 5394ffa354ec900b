import { expect, test } from 'bun:test'
import type { ProgressFrame } from '../../src/chat/modes'
import { tutorFilter } from '../../src/tutor/output'

const run = (allowance: number, frames: ProgressFrame[]) => {
  const filter = tutorFilter(allowance, '(held)')
  const out = [...frames.flatMap((f) => filter.frame(f)), ...filter.flush()]
  return {
    out,
    answer: filter.answer({
      content: 'raw',
      generatedCode: frames.find((f) => f.type === 'code_ready')?.generated_code ?? '',
    }),
  }
}

test('below level 4 a structured answer loses its code, and the explanation says so once', () => {
  const { out, answer } = run(0, [
    { type: 'code_ready', generated_code: 'a = 1\nb = 2' },
    { type: 'chunk', content: 'Sets a' },
    { type: 'chunk', content: ' and b.' },
  ])
  expect(out).toEqual([
    { type: 'chunk', content: 'Sets a' },
    { type: 'chunk', content: ' and b.' },
    { type: 'chunk', content: '\n\n(held)' },
  ])
  expect(answer).toEqual({ content: 'Sets a and b.\n\n(held)', generatedCode: '' })
})

test('at level 4 the code field and the text share one allowance; the answer is what was sent', () => {
  const { out, answer } = run(2, [
    { type: 'code_ready', generated_code: 'a = 1\nb = 2\nc = 3' },
    { type: 'chunk', content: 'Then:\n```\nx\n```\n' },
  ])
  expect(out).toEqual([
    { type: 'code_ready', generated_code: 'a = 1\nb = 2' },
    { type: 'chunk', content: 'Then:\n(held)\n' },
    { type: 'chunk', content: '\n(held)' },
  ])
  expect(answer).toEqual({ content: 'Then:\n(held)\n\n(held)', generatedCode: 'a = 1\nb = 2' })
})
