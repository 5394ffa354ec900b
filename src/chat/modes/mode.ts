/** What every assistant mode provides (index.ts picks one per request). */
import type { JsonResponseFormat } from '../../providers/provider'

/** A frame of a response before the terminal one. */
export type ProgressFrame = { type: 'code_ready'; generated_code: string } | { type: 'chunk'; content: string }

export interface ModeReader {
  /** The frames one piece of model text produces (often none, sometimes several). */
  read(text: string): ProgressFrame[]
  /** The answer so far: the whole of it once the stream ended, a partial one when cancelled. */
  answer(): { content: string; generatedCode: string }
}

export interface AssistantMode {
  responseFormat?: JsonResponseFormat
  reader(): ModeReader
}
