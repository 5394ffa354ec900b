/** The shapes of the public API the page reads (see the server's OpenAPI document); only the fields it uses. */

// biome-ignore lint/suspicious/noExplicitAny: API answers are read defensively field by field
export type Json = any

export interface TaskFile {
  id: string
  name: string
  content: string
  language: string
}

export interface TaskTest {
  title: string
  name: string
  kind: 'endpoint' | 'frontend_interactive' | 'judge'
  public: boolean
  endpoint?: string
  input?: Record<string, unknown>
}

export interface TaskDetail {
  task: { name: string; slug: string; summary: string; description: string; tests: TaskTest[] }
  files: TaskFile[]
}

export interface StreamedResult {
  testName: string
  status: 'pass' | 'fail' | 'error' | 'skip'
  message: string
  expected?: unknown
  actual?: unknown
  group?: string
  private?: true
  screenshot?: string
  duration_ms?: number
}

export interface ChatMessage {
  role: 'user' | 'assistant' | 'system'
  content: string
}

export interface ChatRequest {
  messages: ChatMessage[]
  mode: 'chat'
  task?: string
  files?: { backendCode?: string; frontendCode?: Record<string, string> }
  conversation_id?: string
  hint_level?: number
}

export type ChatFrame =
  | { type: 'chunk'; id?: string | number; content: string }
  | { type: 'complete'; id?: string | number; content: string; hint_level?: number; conversation_id?: string }
  | { type: 'error'; id?: string | number; content: string }
  | { type: 'code_ready'; id?: string | number; generated_code: string }
