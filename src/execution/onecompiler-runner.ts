import type { Config } from '../config'
import type { Logger } from '../logging'
import type { CodeRunner } from './runner'
export function createOneCompilerRunner(_: { config: Config; logger: Logger }): CodeRunner {
  throw new Error('todo')
}
