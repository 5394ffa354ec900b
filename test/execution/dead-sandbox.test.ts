/**
 * A sandbox that is gone before it reads its job (killed, out of memory, a broken harness) is that run's
 * outcome, never the server's end: with a job larger than a pipe buffer the write to its stdin fails with EPIPE,
 * which used to surface as an unhandled rejection (this file failed with "EPIPE: broken pipe, write"). Real
 * sandbox, real pipes; once with a sandbox started for the job, once with one that died waiting in the pool.
 */
import { expect, test } from 'bun:test'
import { createLocalRunner } from '../../src/execution/local-runner'
import type { Job } from '../../src/execution/runner'
import { createLogger } from '../../src/logging'
import { createSandbox } from '../../src/sandbox'
import { testConfig } from '../support/config'

const GONE_AT_ONCE = 'import os\nos._exit(0)'

for (const pool of ['0', '1']) {
  test(`a 1.2 MB job for a sandbox that has exited (pool ${pool}): a failed run, and the next one too`, async () => {
    const config = testConfig({ EXEC_POOL_SIZE: pool })
    const logger = createLogger('silent')
    const sandbox = createSandbox({ config, logger })
    const runner = createLocalRunner({ config, logger, sandbox, harness: GONE_AT_ONCE })
    try {
      await sandbox.ready()
      const job = { op: 'call', code: `#${'x'.repeat(1_200_000)}`, endpoint: '/f', args: {} } as unknown as Job
      for (let i = 0; i < 2; i++) {
        const outcome = await runner.run(job)
        expect(outcome.messages).toEqual([])
        expect(outcome.stopped).toMatchObject({
          kind: 'runtime_error',
          message: expect.stringContaining('without a result'),
        })
      }
    } finally {
      runner.close()
      await sandbox.close()
    }
  })
}
