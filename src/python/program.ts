/**
 * The embedded Python programs, assembled from their parts. src/python/limits.py and src/python/core.py (the
 * @endpoint decorator, argument conversion, result JSON) come first in every program that runs learner code, so
 * the execution harness and the Python server runner follow one copy of those rules. Embedded in the compiled
 * binary: a sandbox never sees the project. Started as `python3 -I -S -c <program> …`, or, for the execution
 * harness, from the bytecode src/python/compiled.ts makes of these texts once per server start.
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
 * The execution harness's learner process, the program the server starts: its first lines start
 * `schedulerProgram` (harness-launch.py), then it plans, loads and calls the learner's code
 * (src/python/learner-process.py). Argv: the limits, then `schedulerProgram`.
 */
export const harnessProgram = join(undumpable, limits, common, launch, core, parse, learnerProcess)

/** The harness's scheduler (src/python/harness.py): never runs learner code, imports C modules only. */
export const schedulerProgram = join(undumpable, limits, common, reports, harness)

/**
 * What the harness imports (its own imports, and the ones it makes for the learner's code: ast, json, asyncio for
 * async endpoints, traceback for errors), loaded once in the zygote (src/sandbox/zygote.ts) so no job pays for them.
 */
export const harnessModules = [
  '_ast',
  '_ctypes',
  '_json',
  '_signal',
  '_socket',
  '_struct',
  'ast',
  'gc',
  'io',
  'json',
  'posix',
  'resource',
  'select',
  'time',
  'traceback',
]
