/**
 * The code cutter: a streaming transform over the model's text deltas that holds back fenced code blocks
 * longer than the hint level allows, before any chunk can carry them.
 *
 * It reads characters, not deltas, so its output does not depend on how the stream was split: a delta may end
 * in the middle of a fence, an info string or a code line. Prose streams through at once; only a line that might
 * still turn out to open a fence (nothing yet but indentation and backticks or tildes) waits for its next
 * characters, and a code line waits for its end, because until then no one can tell whether it is the closing
 * fence. The allowance counts code lines over the whole answer, so five short blocks cannot carry what one long
 * block may not. Lines within it are passed on, with their block's fences; the rest is dropped and a short
 * note says why. With an allowance of 0 the whole block goes, fences and all.
 *
 * Fences are recognised with any indentation (a model nests them in list items), backticks or tildes, three or
 * more, closed by at least as many of the same character (CommonMark). Code written outside fences is not
 * recognised: the tutor's instructions ask for fences, and the cutter is the backstop for them.
 *
 * @example
 * const cutter = new CodeCutter({ allowance: 0, note: '(code held back)' })
 * cutter.push('Try this:\n```py\nprint(') + cutter.push('1)\n```\nok') + cutter.end()
 * // → 'Try this:\n(code held back)\nok'
 */

export interface CodeCutterOptions {
  /** Code lines of the whole answer that may pass; 0 holds back every block. */
  allowance: number
  /** Said where a block (or its end) was held back; put on a line of its own. */
  note: string
}

type State =
  /** At the start of a line outside code: `head` may still become a fence. */
  | 'line-start'
  /** Inside a prose line: everything passes until the newline. */
  | 'prose'
  /** A fence opener was seen; its info string is read up to the newline. */
  | 'opener'
  /** Inside a fenced block; `line` holds the current line until its newline. */
  | 'code'

const MAYBE_FENCE = /^[ \t]*(`*|~*)$/
const FENCE_START = /^[ \t]*(`{3,}|~{3,})/

export class CodeCutter {
  private state: State = 'line-start'
  private head = ''
  private line = ''
  private fence = ''
  private opener = ''
  /** Code lines passed so far, over every block. */
  private used = 0
  private shown = false
  private cut = false
  /** How many blocks were cut so far (for logs and tests). */
  blocksCut = 0

  constructor(private readonly options: CodeCutterOptions) {}

  /** Code lines still allowed in this answer. */
  get remaining(): number {
    return Math.max(0, this.options.allowance - this.used)
  }

  /** Counts lines shown elsewhere in the same answer (the code field of a structured answer). */
  spend(lines: number): void {
    this.used += lines
  }

  /** The text that may be sent for one delta (possibly ''). */
  push(delta: string): string {
    let out = ''
    let i = 0
    while (i < delta.length) {
      if (this.state === 'prose') {
        const end = delta.indexOf('\n', i)
        if (end < 0) {
          out += delta.slice(i)
          return out
        }
        out += delta.slice(i, end + 1)
        i = end + 1
        this.state = 'line-start'
        continue
      }
      const c = delta[i++]!
      if (this.state === 'line-start') out += this.atLineStart(c)
      else if (this.state === 'opener') out += this.inOpener(c)
      else out += this.inCode(c)
    }
    return out
  }

  /** The stream ended: whatever may still be sent, and the note when the last block was cut. */
  end(): string {
    let out = ''
    if (this.state === 'line-start') out = this.head
    else if (this.state === 'code') {
      const line = this.line
      this.line = ''
      if (line !== '' && this.isClosing(`${line}\n`)) out += this.closeBlock(`${line}\n`)
      else out += (line === '' ? '' : this.codeLine(line)) + this.closeBlock('')
    }
    // An opener without a single line after it is an empty block: nothing to show or hide.
    this.state = 'line-start'
    this.head = ''
    return out
  }

  private atLineStart(c: string): string {
    const head = this.head + c
    if (c !== '\n' && MAYBE_FENCE.test(head)) {
      this.head = head
      return ''
    }
    this.head = ''
    const fence = FENCE_START.exec(head)
    if (!fence) {
      this.state = c === '\n' ? 'line-start' : 'prose'
      return head
    }
    this.fence = fence[1]!
    this.opener = head
    if (c === '\n') this.openBlock()
    else this.state = 'opener'
    return ''
  }

  private inOpener(c: string): string {
    this.opener += c
    if (c === '\n') this.openBlock()
    else if (c === '`' && this.fence[0] === '`') {
      // The info string of a backtick fence cannot hold a backtick: this line was prose after all.
      this.state = 'prose'
      return this.opener
    }
    return ''
  }

  private openBlock(): void {
    this.state = 'code'
    this.line = ''
    this.shown = false
    this.cut = false
  }

  private inCode(c: string): string {
    if (c !== '\n') {
      this.line += c
      return ''
    }
    const line = `${this.line}\n`
    this.line = ''
    if (this.isClosing(line)) return this.closeBlock(line)
    return this.codeLine(line)
  }

  private isClosing(line: string): boolean {
    const match = /^[ \t]*(`+|~+)[ \t\r]*\n?$/.exec(line)
    return !!match && match[1]![0] === this.fence[0] && match[1]!.length >= this.fence.length
  }

  /** One line of code: passed on while within the allowance, else dropped. */
  private codeLine(line: string): string {
    if (this.used >= this.options.allowance) {
      this.cut = true
      return ''
    }
    this.used++
    const text = line.endsWith('\n') ? line : `${line}\n`
    if (this.shown) return text
    this.shown = true
    return this.opener + text
  }

  /** The block ended (its closing fence, or the end of the stream). */
  private closeBlock(closing: string): string {
    this.state = 'line-start'
    let out = ''
    if (this.shown) out += closing || `${this.fence}\n`
    if (this.cut) {
      this.blocksCut++
      out += `${this.options.note}\n`
    }
    return out
  }
}

/**
 * The code of a structured (autocomplete) answer, held to the same allowance: its first `allowance` lines, or
 * nothing at all when the allowance is 0.
 */
export function limitCode(code: string, allowance: number): { code: string; cut: boolean } {
  if (!code.trim()) return { code, cut: false }
  const lines = code.replace(/\n$/, '').split('\n')
  if (lines.length <= allowance) return { code, cut: false }
  return { code: allowance === 0 ? '' : lines.slice(0, allowance).join('\n'), cut: true }
}
