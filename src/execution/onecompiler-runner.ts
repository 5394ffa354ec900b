/**
 * The OneCompiler CodeRunner (USE_LOCAL_EXECUTION=false): the same harness, sent as index.py to the OneCompiler
 * API (docs/api.md, "OneCompiler"). Remote runs have only stdout, so the harness prefixes each of its messages
 * with a per-run random marker; everything else on stdout is the learner's. OneCompiler's quirks (status
 * "success" for a program that failed, error codes E001–E006) are mapped onto our outcomes here.
 */
import type { HarnessLimitSettings } from './local-runner'
import type { QueueSettings } from './queue'
import { AppError } from '../errors'
import type { Logger } from '../logging'
import { harnessLimits, jobBudgetMs } from './local-runner'
import { harnessProgram, schedulerProgram } from '../python/program'
import { createQueue, queueLimits } from './queue'
import { parseMessages } from './messages'
import { requireCaseCount, type CodeRunner, type Job, type RunOutcome } from './runner'

/** The settings this module reads (src/config.ts documents each). */
export interface OneCompilerSettings extends HarnessLimitSettings, QueueSettings {
  ONECOMPILER_TIMEOUT_MS: number
  ONECOMPILER_URL: string
  RAPIDAPI_KEY: string | undefined
  EXEC_MAX_CASES: number
}

export const ONECOMPILER_HOST = 'onecompiler-apis.p.rapidapi.com'

/** The program sent to OneCompiler: the job as Python string literals (JSON strings are valid ones), then the harness. */
export function remoteProgram(job: Job, limits: object, marker: string): string {
  const literal = (text: string) => JSON.stringify(text)
  return [
    `_REMOTE_JOB = ${literal(JSON.stringify(job))}`,
    `_REMOTE_LIMITS = ${literal(JSON.stringify(limits))}`,
    `_REMOTE_MARKER = ${literal(marker)}`,
    `_REMOTE_SCHEDULER = ${literal(schedulerProgram)}`,
    harnessProgram,
  ].join('\n')
}

/** Splits OneCompiler stdout into harness messages (marked lines) and the learner's own output. */
export function splitRemoteOutput(stdout: string, marker: string) {
  const learner: string[] = []
  const marked: string[] = []
  for (const line of stdout.split('\n')) {
    if (line.startsWith(marker)) marked.push(line.slice(marker.length))
    else learner.push(line)
  }
  // The harness writes "\n<marker>…\n": drop the blank line it added before each message.
  const text = learner.join('\n').replace(/\n+$/, '')
  return { messages: parseMessages(marked.join('\n')), stdout: text ? `${text}\n` : '' }
}

interface OneCompilerResponse {
  stdout?: string | null
  stderr?: string | null
  exception?: string | null
  executionTime?: number
  status?: string
  error?: string | null
  message?: string | null
}

/** Maps an API-level failure code onto our errors; E001 (timeout) is a result, handled by the caller. */
export function upstreamError(code: string, detail: string): AppError {
  switch (code) {
    case 'E002':
      return new AppError(
        'upstream_quota_exceeded',
        503,
        'The remote execution quota (OneCompiler) is used up; try again later',
        undefined,
        { 'retry-after': '60' },
      )
    case 'E003':
      return new AppError('upstream_error', 502, 'OneCompiler rejected the API key (invalid RAPIDAPI_KEY)')
    case 'E004':
      return new AppError('upstream_error', 502, 'OneCompiler received no API key (RAPIDAPI_KEY missing)')
    case 'E005':
      return new AppError('payload_too_large', 413, 'The program is too long for remote execution (OneCompiler E005)')
    case 'E006':
      return new AppError('upstream_error', 502, 'OneCompiler does not support the requested language (E006)')
    default:
      return new AppError('upstream_error', 502, `OneCompiler failed: ${detail.slice(0, 200)}`)
  }
}

export interface OneCompilerRunnerOptions {
  config: OneCompilerSettings
  logger: Logger
  fetch?: typeof fetch
}

export function createOneCompilerRunner({
  config,
  logger,
  fetch: fetchImpl = fetch,
}: OneCompilerRunnerOptions): CodeRunner {
  const queue = createQueue(queueLimits(config))
  const limits = harnessLimits(config)
  const url = `${config.ONECOMPILER_URL.replace(/\/+$/, '')}/api/v1/run`

  async function execute(job: Job, signal?: AbortSignal): Promise<RunOutcome> {
    const marker = `@@harness-${crypto.randomUUID()}@@`
    const timeoutMs = Math.min(config.ONECOMPILER_TIMEOUT_MS, jobBudgetMs(config, job) + 10_000)
    const timeout = AbortSignal.timeout(timeoutMs)
    let response: Response
    try {
      response = await fetchImpl(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-rapidapi-key': config.RAPIDAPI_KEY!,
          'x-rapidapi-host': ONECOMPILER_HOST,
        },
        body: JSON.stringify({
          language: 'python',
          stdin: '',
          files: [{ name: 'index.py', content: remoteProgram(job, limits, marker) }],
        }),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      })
    } catch (error) {
      if (timeout.aborted) {
        return {
          messages: [],
          stdout: '',
          stderr: '',
          stopped: {
            kind: 'timeout',
            message: `Time limit exceeded (no answer from OneCompiler within ${timeoutMs} ms)`,
          },
          method: 'onecompiler',
        }
      }
      logger.warn('onecompiler unreachable', { error: (error as Error).message })
      throw new AppError('upstream_error', 502, 'OneCompiler could not be reached')
    }
    const text = await response.text()
    let body: OneCompilerResponse = {}
    try {
      body = JSON.parse(text)
    } catch {
      // a gateway page; handled below by status
    }
    const code = `${body.error ?? ''} ${body.message ?? ''} ${body.exception ?? ''}`.match(/\bE00[1-6]\b/)?.[0]
    if (code === 'E001') {
      return {
        messages: [],
        stdout: body.stdout ?? '',
        stderr: body.stderr ?? '',
        stopped: { kind: 'timeout', message: 'Time limit exceeded (OneCompiler E001)' },
        method: 'onecompiler',
      }
    }
    if (code) throw upstreamError(code, '')
    if (response.status === 429) throw upstreamError('E002', '')
    if (response.status === 401 || response.status === 403) throw upstreamError('E003', '')
    if (!response.ok || body.status === 'failed') {
      logger.warn('onecompiler failed', { status: response.status, error: body.error ?? text.slice(0, 200) })
      throw upstreamError('', `HTTP ${response.status}`)
    }
    const { messages, stdout } = splitRemoteOutput(body.stdout ?? '', marker)
    const finished = messages.some((m) => m.type !== 'case')
    const crash = body.exception?.trim() || 'The program ended without a result'
    return {
      messages,
      stdout,
      stderr: body.stderr ?? '',
      stopped: finished
        ? undefined
        : { kind: /MemoryError/.test(crash) ? 'memory_limit' : 'runtime_error', message: crash.slice(-500) },
      method: 'onecompiler',
    }
  }

  return {
    method: 'onecompiler',
    async run(job, options = {}) {
      if (!config.RAPIDAPI_KEY) {
        return Promise.reject(
          new AppError('execution_unavailable', 503, 'Remote execution is not configured: RAPIDAPI_KEY is not set'),
        )
      }
      if (job.op === 'tests') requireCaseCount(job.cases.length, config.EXEC_MAX_CASES)
      const { client, signal } = options
      return queue.run(
        async () => {
          options.onStart?.()
          const outcome = await execute(job, signal)
          for (const message of outcome.messages) await options.onMessage?.(message)
          return outcome
        },
        { client, signal },
      )
    },
    health() {
      return {
        execution: {
          ok: Boolean(config.RAPIDAPI_KEY),
          mode: 'onecompiler',
          url: config.ONECOMPILER_URL,
          key_configured: Boolean(config.RAPIDAPI_KEY),
          queue: queue.stats(),
        },
      }
    },
    close() {},
  }
}
