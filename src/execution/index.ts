/**
 * Execution feature: the CodeRunner built from configuration and the routes (issue 3 fills these in).
 */
import { Elysia } from 'elysia'
import type { Config } from '../config'
import type { Logger } from '../logging'
import type { CodeRunner } from './runner'
import { probePython, probeSandbox } from './probe'

export function createCodeRunner(config: Config, _logger: Logger): CodeRunner {
  const probes = Promise.all([probePython(config.PYTHON_BIN), probeSandbox(config.PYTHON_BIN)])
  return {
    async health() {
      const [python, sandbox] = await probes
      return {
        python: { ok: python.found, ...python },
        sandbox: { ok: sandbox.available || config.SANDBOX === 'off', mode: config.SANDBOX, ...sandbox },
        execution: { ok: true, mode: config.USE_LOCAL_EXECUTION ? 'local' : 'onecompiler' },
      }
    },
    close() {},
  }
}

export const execution = (_deps: { config: Config; runner: CodeRunner; logger: Logger }) =>
  new Elysia({ name: 'execution', tags: ['Python execution'] })
