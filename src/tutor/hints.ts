/**
 * Hint levels: how much the tutor may give away. 1 a question or nudge, 2 the concept and where to look, 3 the
 * steps in words or pseudo-code, 4 a short code fragment. Without an asked-for level a conversation starts at 1
 * and rises by one with each request, never above the task's `tutor.max_hint_level`.
 */

export const MIN_HINT_LEVEL = 1
export const MAX_HINT_LEVEL = 4

/**
 * The level of this request: the one asked for, else one above the conversation's last (1 for a new one);
 * never above `max`.
 *
 * @example
 * hintLevel({ previous: 2, max: 4 }) // → 3
 * hintLevel({ requested: 4, previous: 1, max: 3 }) // → 3
 */
export function hintLevel({ requested, previous, max }: { requested?: number; previous?: number; max: number }) {
  const wanted = requested ?? (previous ?? MIN_HINT_LEVEL - 1) + 1
  return Math.max(MIN_HINT_LEVEL, Math.min(wanted, max, MAX_HINT_LEVEL))
}

/** Lines of one code block an answer at `level` may show: none below 4, `maxCodeLines` at 4. */
export const codeAllowance = (level: number, maxCodeLines: number) => (level >= MAX_HINT_LEVEL ? maxCodeLines : 0)

/** What the model is told about the level (part of the tutor's own instructions). */
export function levelGuidance(level: number, maxCodeLines: number): string {
  switch (level) {
    case 1:
      return (
        'Hint level 1 of 4: answer with one guiding question or a short nudge that helps the learner find the ' +
        'problem themselves. No code, no steps, no solution.'
      )
    case 2:
      return (
        'Hint level 2 of 4: name the concept that matters and where to look (the function, the test, the line). ' +
        'No code and no step-by-step solution.'
      )
    case 3:
      return (
        'Hint level 3 of 4: describe the steps in words or short pseudo-code the learner still has to turn into ' +
        'Python or JavaScript themselves. No code in the task language.'
      )
    default:
      return (
        `Hint level 4 of 4: you may show one short code fragment of at most ${maxCodeLines} lines in a fenced ` +
        'block, for the one spot the learner is stuck on, and explain it. Never a whole function or file.'
      )
  }
}

/** Said in the answer where the cutter held code back. */
export function cutNote(level: number, maxCodeLines: number): string {
  return codeAllowance(level, maxCodeLines) === 0
    ? `_(Code held back: at hint level ${level} the tutor explains instead of writing the code. Ask for the next hint if you are stuck.)_`
    : `_(The rest of this code is held back: at hint level ${level} the tutor shows at most ${maxCodeLines} lines.)_`
}
