/**
 * Assistant modes (the original backend's "strategies"): what a mode asks the model for, and how it turns the streamed
 * text into frames. One reader per turn; readers keep no state beyond it.
 */
import type { AssistantMode } from './mode'
import type { Mode } from '../model'
import { chatMode } from './chat'
import { autocompleteMode } from './autocomplete'

export type { AssistantMode, ModeReader, ProgressFrame } from './mode'

export const MODE: Record<Mode, AssistantMode> = { chat: chatMode, autocomplete: autocompleteMode }
