/**
 * Assistant modes (the original backend's "strategies"): what a mode asks the model for, and how it turns the streamed
 * text into frames. One reader per turn; readers keep no state beyond it.
 */
import type { JsonResponseFormat } from '../../providers/provider'
import type { Mode } from '../model'
import { chatMode } from './chat'
import { autocompleteMode } from './autocomplete'

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

export const MODE: Record<Mode, AssistantMode> = { chat: chatMode, autocomplete: autocompleteMode }
