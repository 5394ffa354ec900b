/**
 * The embedded Python programs, assembled from their parts. src/python/core.py (the @endpoint decorator, argument
 * conversion, result JSON, rlimits) is in each, so the execution harness and the Python server runner follow one
 * copy of those rules. Started as `python3 -I -S -c <program> …`: embedded in the compiled binary, nothing is read
 * from disk at run time and a sandbox never sees the project.
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
import undumpable from './undumpable.py' with { type: 'text' }

/** The core, then `parts` in order (a later part uses what earlier ones define). */
export function pythonProgram(...parts: string[]): string {
  return [core, ...parts].join('\n')
}

/**
 * The execution harness's scheduler (src/python/harness.py). Its first lines make it undumpable and start
 * `learnerProgram`, before the core's imports, so both interpreters start up at once.
 */
export const harnessProgram = [undumpable, launch, pythonProgram(common, parse, reports, harness)].join('\n')

/** The harness's learner process: loads and calls the learner's code (src/python/learner-process.py). */
export const learnerProgram = [undumpable, pythonProgram(common, parse, learnerProcess)].join('\n')
