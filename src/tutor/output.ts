/**
 * The tutor's filter over a turn's progress frames: explanation text goes through the code cutter, the code of a
 * structured answer is held to the same allowance, and what the learner was sent is what the answer says.
 */
import { CodeCutter, limitCode } from './code-cutter'

/** A frame of an answer before its terminal one, as the chat feature sends it (chat/modes/mode.ts). */
export type ProgressFrame = { type: 'code_ready'; generated_code: string } | { type: 'chunk'; content: string }

export interface OutputFilter {
  /** The frames that may be sent for one frame of the mode's reader. */
  frame(frame: ProgressFrame): ProgressFrame[]
  /** The stream ended (or was cancelled): what may still be sent. */
  flush(): ProgressFrame[]
  /** The answer as sent: the text of every chunk that went out, the code as limited. */
  answer(raw: { content: string; generatedCode: string }): { content: string; generatedCode: string }
}

export function tutorFilter(allowance: number, note: string): OutputFilter {
  const cutter = new CodeCutter({ allowance, note })
  let sent = ''
  let codeCut = false
  let shownCode: string | undefined
  const chunk = (content: string): ProgressFrame[] => {
    sent += content
    return content ? [{ type: 'chunk', content }] : []
  }
  return {
    frame(frame) {
      if (frame.type === 'chunk') return chunk(cutter.push(frame.content))
      const limited = limitCode(frame.generated_code, cutter.remaining)
      codeCut ||= limited.cut
      shownCode = limited.code
      if (limited.code.trim()) cutter.spend(limited.code.replace(/\n$/, '').split('\n').length)
      return limited.code.trim() ? [{ type: 'code_ready', generated_code: limited.code }] : []
    },
    flush() {
      const rest = cutter.end()
      if (!codeCut) return chunk(rest)
      codeCut = false
      const before = sent + rest
      const gap = before === '' || before.endsWith('\n\n') ? '' : before.endsWith('\n') ? '\n' : '\n\n'
      return chunk(`${rest}${gap}${note}`)
    },
    answer(raw) {
      // A cancelled answer may end inside the code string: then no code_ready went out, and the partial code is held.
      return { content: sent, generatedCode: shownCode ?? limitCode(raw.generatedCode, cutter.remaining).code }
    },
  }
}
