/**
 * The embedded Python programs, assembled from their parts. src/python/limits.py and src/python/core.py (the
 * @endpoint decorator, argument conversion, result JSON) come first in every program that runs learner code, so
 * the execution harness and the Python server runner follow one copy of those rules. Started as
 * `python3 -I -S -c <program> …`: embedded in the compiled binary, nothing is read from disk at run time and a
 * sandbox never sees the project.
 *
 * @example
 * Bun.spawn([python, '-I', '-S', '-c', pythonProgram(serveSource), ...args])
 */
import core from './core.py' with { type: 'text' }
import common from './harness-common.py' with { type: 'text' }
import launch from './harness-launch.py' with { type: 'text' }
import parse from './harness-parse.py' with { type: 'text' }
import reports from './harness-reports.py' with { type: 'text' }
import harness from './harness.py' with { type: 'text' }
import learnerProcess from './learner-process.py' with { type: 'text' }
import limits from './limits.py' with { type: 'text' }
import undumpable from './undumpable.py' with { type: 'text' }

const join = (...parts: string[]) => parts.join('\n')

/** A program that runs learner code: the limits and the core, then `parts` in order. */
export function pythonProgram(...parts: string[]): string {
  return join(limits, core, ...parts)
}

/**
 * The execution harness (src/python/harness.py): one program, two processes. The scheduler's part comes first and
 * imports C modules only; harness-launch.py forks there, and only the child, the learner process, goes on to the
 * core and the rest (src/python/learner-process.py).
 */
export const harnessProgram = join(undumpable, limits, common, reports, harness, launch, core, parse, learnerProcess)
