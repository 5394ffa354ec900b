/**
 * The code cutter on every way a stream can be split: each input is fed whole, split once at every position,
 * split twice at every pair of positions, and one character at a time; the text that comes out must be the
 * same each time and must never hold a line of a cut block.
 */
import { describe, expect, test } from 'bun:test'
import { CodeCutter, limitCode } from '../../src/tutor/code-cutter'

const NOTE = '(held back)'

function feed(pieces: string[], allowance: number): { text: string; chunks: string[] } {
  const cutter = new CodeCutter({ allowance, note: NOTE })
  const chunks = pieces.map((piece) => cutter.push(piece))
  chunks.push(cutter.end())
  return { text: chunks.join(''), chunks }
}

/**
 * Every split of `input` into one and two pieces, into single characters, and into three pieces: at every pair of
 * positions for short inputs, at every pair up to 12 characters apart for long ones (a fence or a line end cut
 * in three).
 */
function* splits(input: string): Generator<string[]> {
  yield [input]
  yield [...input]
  const reach = input.length <= 160 ? input.length : 12
  for (let i = 0; i <= input.length; i++) {
    yield [input.slice(0, i), input.slice(i)]
    for (let j = i; j <= Math.min(input.length, i + reach); j++)
      yield [input.slice(0, i), input.slice(i, j), input.slice(j)]
  }
}

const SOLUTION = Array.from({ length: 12 }, (_, i) => `    value_${i} = compute(${i})`)

const CASES: { name: string; input: string; allowance: number; output: string }[] = [
  {
    name: 'prose passes untouched',
    input: 'Look at `check_winner`: what does it return for a full board?\nTry ``a`` too.',
    allowance: 0,
    output: 'Look at `check_winner`: what does it return for a full board?\nTry ``a`` too.',
  },
  {
    name: 'a block at level 1-3 goes entirely, fences and all, with the note',
    input: `Here:\n\`\`\`python\ndef f():\n${SOLUTION.join('\n')}\n\`\`\`\nThen run it.`,
    allowance: 0,
    output: `Here:\n${NOTE}\nThen run it.`,
  },
  {
    name: 'a long block at level 4 keeps its first lines and its fences',
    input: `Start so:\n\`\`\`py\ndef f():\n${SOLUTION.join('\n')}\n\`\`\`\nok`,
    allowance: 3,
    output: `Start so:\n\`\`\`py\ndef f():\n${SOLUTION[0]}\n${SOLUTION[1]}\n\`\`\`\n${NOTE}\nok`,
  },
  {
    name: 'the allowance counts the lines of every block of the answer',
    input: `One:\n\`\`\`\n${SOLUTION[0]}\n${SOLUTION[1]}\n\`\`\`\nTwo:\n\`\`\`\n${SOLUTION[2]}\n${SOLUTION[3]}\n\`\`\`\nThree:\n\`\`\`\n${SOLUTION[4]}\n\`\`\`\n`,
    allowance: 3,
    output: `One:\n\`\`\`\n${SOLUTION[0]}\n${SOLUTION[1]}\n\`\`\`\nTwo:\n\`\`\`\n${SOLUTION[2]}\n\`\`\`\n${NOTE}\nThree:\n${NOTE}\n`,
  },
  {
    name: 'a short block at level 4 passes as it is',
    input: 'Like this:\n~~~\nx = 1\ny = 2\n~~~\nDone.',
    allowance: 3,
    output: 'Like this:\n~~~\nx = 1\ny = 2\n~~~\nDone.',
  },
  {
    name: 'a block left open at the end of the stream is cut and closed',
    input: 'See:\n  ````js\nlet a = 1\nlet b = 2\n```\nlet c = 3',
    allowance: 1,
    output: 'See:\n  ````js\nlet a = 1\n````\n(held back)\n',
  },
  {
    name: 'a backtick in the info string makes the line prose',
    input: '```a` is not a fence\nstill prose\n```\ncode\n```\n',
    allowance: 0,
    output: '```a` is not a fence\nstill prose\n(held back)\n',
  },
  {
    name: 'a shorter or different fence does not close a block',
    input: '````\n```\n~~~~\ncode\n````\nafter',
    allowance: 0,
    output: `${NOTE}\nafter`,
  },
  {
    name: 'CRLF line ends and an indented fence in a list item',
    input: '1. Step\r\n   ```\r\n   secret()\r\n   ```\r\n2. Next',
    allowance: 0,
    output: `1. Step\r\n${NOTE}\n2. Next`,
  },
  {
    name: 'an empty block disappears without a note',
    input: 'a\n```\n```\nb',
    allowance: 0,
    output: 'a\nb',
  },
  {
    name: 'a closing fence without a newline at the end',
    input: '```\nx\n```',
    allowance: 2,
    output: '```\nx\n```\n',
  },
]

describe('CodeCutter', () => {
  for (const { name, input, allowance, output } of CASES) {
    test(`${name}, on every split of the stream`, () => {
      const hidden = allowance === 0 ? SOLUTION : SOLUTION.slice(allowance)
      let count = 0
      for (const pieces of splits(input)) {
        const { text, chunks } = feed(pieces, allowance)
        if (text !== output) expect({ pieces, text }).toEqual({ pieces, text: output })
        const leaked = chunks.flatMap((chunk) => hidden.filter((line) => chunk.includes(line)))
        if (leaked.length) expect({ pieces, leaked }).toEqual({ pieces, leaked: [] })
        count++
      }
      expect(count).toBeGreaterThan(input.length)
    })
  }

  test('prose is sent as it arrives, not at the end of its line', () => {
    const cutter = new CodeCutter({ allowance: 0, note: NOTE })
    expect(cutter.push('Think about')).toBe('Think about')
    expect(cutter.push(' the diagonal')).toBe(' the diagonal')
    expect(cutter.push('\n``')).toBe('\n')
    expect(cutter.push('x')).toBe('``x')
  })

  test('no chunk carries a line past the allowance, even mid-line', () => {
    const cutter = new CodeCutter({ allowance: 2, note: NOTE })
    const sent = ['```\n', 'one\ntw', 'o\nthr', 'ee\nfour\n', '```\n'].map((piece) => cutter.push(piece))
    expect(sent).toEqual(['', '```\none\n', 'two\n', '', `\`\`\`\n${NOTE}\n`])
    expect(cutter.blocksCut).toBe(1)
  })
})

describe('limitCode', () => {
  test('holds the code of a structured answer to the same allowance', () => {
    expect(limitCode('a\nb\nc\n', 0)).toEqual({ code: '', cut: true })
    expect(limitCode('a\nb\nc\n', 2)).toEqual({ code: 'a\nb', cut: true })
    expect(limitCode('a\nb\n', 2)).toEqual({ code: 'a\nb\n', cut: false })
    expect(limitCode('  ', 0)).toEqual({ code: '  ', cut: false })
  })
})
