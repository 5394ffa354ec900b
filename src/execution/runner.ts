/**
 * The CodeRunner port: one job = learner code + an operation. Adapters: local sandbox, OneCompiler. Both run the
 * same harness (sandbox/harness.py) and give the same outcome for the same job.
 */
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
  /** Who asked (see src/client.ts): slots are shared fairly between clients. */
  client?: string
  signal?: AbortSignal
  /** Called for every harness message as it arrives (progress of a test batch). */
  onMessage?: (message: HarnessMessage) => void
  /** Called once the job has its slot and starts: a refusal (queue_full, sandbox_unavailable) is thrown before. */
  onStart?: () => void
}

/** Limits the harness applies to itself (hard rlimits) before it reads the learner's code. */
export interface HarnessLimits {
  memory_mb: number
  max_processes: number
  file_bytes: number
  cpu_seconds: number
  output_bytes: number
  timeout_ms: number
  parallelism: number
}

export interface CodeRunner extends Service {
  readonly method: 'local_sandbox' | 'onecompiler'
  run(job: Job, options?: RunOptions): Promise<RunOutcome>
}

/** Splits newline-delimited JSON messages; a line that is not JSON is ignored (never trusted as a result). */
export function parseMessages(text: string): HarnessMessage[] {
  const messages: HarnessMessage[] = []
  for (const line of text.split('\n')) {
    if (!line.trim()) continue
    try {
      const value = JSON.parse(line)
      if (value && typeof value === 'object' && typeof value.type === 'string') messages.push(value)
    } catch {
      // a torn last line of a killed run
    }
  }
  return messages
}
