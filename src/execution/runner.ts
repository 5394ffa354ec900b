/**
 * The CodeRunner port: one job = learner code + an operation. Adapters: local sandbox, OneCompiler. Both run the
 * same harness (src/python/harness.py) and give the same outcome for the same job.
 */
import { AppError } from '../errors'
import type { Service } from '../services'

export interface TestCaseJob {
  endpoint: string
  input?: Record<string, unknown>
}

export type Job =
  | { op: 'parse'; code: string }
  | { op: 'validate'; code: string }
  | { op: 'call'; code: string; endpoint: string; args?: Record<string, unknown> }
  | { op: 'tests'; code: string; cases: TestCaseJob[] }

/** One JSON message from the harness (`type`: endpoints | valid | result | error | case | done). */
// biome-ignore lint/suspicious/noExplicitAny: fields differ by type; messages.ts validates each before use
export type HarnessMessage = { type: string; [field: string]: any }

/** What a run produced. A run stopped by us (time, output) is an outcome too, never an exception. */
export interface RunOutcome {
  messages: HarnessMessage[]
  /** Raw learner output that bypassed the harness's capture (os.write, C extensions, crash messages). */
  stdout: string
  stderr: string
  stopped?: { kind: 'timeout' | 'output_limit' | 'memory_limit' | 'runtime_error'; message: string }
  method: 'local_sandbox' | 'onecompiler'
}

export interface RunOptions {
  /** Who asked (see src/http/client.ts): slots are shared fairly between clients. */
  client?: string
  /** The request's signal: a job whose client left never starts, and a running one is stopped. */
  signal?: AbortSignal
  /**
   * Called for every accepted harness message as it arrives (progress of a test batch). A returned promise holds
   * back further reading until it settles: a slow consumer slows the run instead of filling the server's memory.
   */
  onMessage?: (message: HarnessMessage) => void | Promise<void>
  /** Called once the job has its slot and starts: a refusal (queue_full, sandbox_unavailable) is thrown before. */
  onStart?: () => void
}

/** Limits the harness holds (its scheduler, before any learner code exists) and applies to learner processes. */
export interface HarnessLimits {
  memory_mb: number
  max_processes: number
  file_bytes: number
  cpu_seconds: number
  output_bytes: number
  /** Largest JSON of one result; the server enforces it too (./channel.ts). */
  result_bytes: number
  /** Longest line the harness writes (reportLineBytes in ./channel.ts, the same cap the server reads with). */
  line_bytes: number
  timeout_ms: number
  parallelism: number
}

export interface CodeRunner extends Service {
  readonly method: 'local_sandbox' | 'onecompiler'
  run(job: Job, options?: RunOptions): Promise<RunOutcome>
}

/** A batch beyond `max` cases is refused before anything runs: one request must not hold a slot for hours. */
export function requireCaseCount(count: number, max: number) {
  if (count > max) throw new AppError('too_many_cases', 413, `${count} test cases in one batch; the limit is ${max}`)
}
