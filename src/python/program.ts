/**
 * The embedded Python programs, assembled from their parts. src/python/core.py (the @endpoint decorator, argument
 * conversion, result JSON, rlimits) goes in front of each, so the execution harness and the Python server runner
 * follow one copy of those rules. Started as `python3 -I -S -c <program> …`: embedded in the compiled binary,
 * nothing is read from disk at run time and a sandbox never sees the project.
 *
 * @example
 * Bun.spawn([python, '-I', '-S', '-c', pythonProgram(serveSource), ...args])
 */
import core from './core.py' with { type: 'text' }
import common from './harness-common.py' with { type: 'text' }
import harnessParse from './harness-parse.py' with { type: 'text' }
import harnessReports from './harness-reports.py' with { type: 'text' }
import harness from './harness.py' with { type: 'text' }
import learnerProcess from './learner-process.py' with { type: 'text' }

/** The core, then `parts` in order (a later part uses what earlier ones define). */
export function pythonProgram(...parts: string[]): string {
  return [core, ...parts].join('\n')
}

/** The execution harness's scheduler; it starts `learnerProgram` itself (src/python/harness.py). */
export const harnessProgram = pythonProgram(common, harnessParse, harnessReports, harness)

/** The harness's learner process: loads and calls the learner's code (src/python/learner-process.py). */
export const learnerProgram = pythonProgram(common, learnerProcess)
