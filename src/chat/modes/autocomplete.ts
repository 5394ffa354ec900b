/**
 * `autocomplete` mode: the model answers `{ code, explanation }` through structured output. The JSON is read as
 * it streams: `code_ready` the moment the code string closes, the explanation relayed as chunks while it is
 * written. A model that ignores the format and answers in prose is relayed as prose.
 */
import type { AssistantMode, ProgressFrame } from './mode'
import type { JsonResponseFormat } from '../../providers/provider'
import { JsonFieldReader } from '../json-fields'

export const CODE_AND_EXPLANATION: JsonResponseFormat = {
  type: 'json',
  name: 'code_and_explanation',
  schema: {
    type: 'object',
    properties: {
      code: { type: 'string', description: 'The complete code for the editor, or an empty string.' },
      explanation: { type: 'string', description: 'A short Markdown explanation for the learner.' },
    },
    required: ['code', 'explanation'],
    additionalProperties: false,
  },
}

export const autocompleteMode: AssistantMode = {
  responseFormat: CODE_AND_EXPLANATION,
  reader() {
    const json = new JsonFieldReader()
    let prose = ''
    return {
      read(text) {
        const frames: ProgressFrame[] = []
        for (const event of json.feed(text)) {
          if (event.type === 'text') {
            prose += event.text
            frames.push({ type: 'chunk', content: event.text })
          } else if (event.field === 'explanation' && event.type === 'delta') {
            frames.push({ type: 'chunk', content: event.text })
          } else if (event.field === 'code' && event.type === 'end' && event.value.trim()) {
            frames.push({ type: 'code_ready', generated_code: event.value })
          }
        }
        return frames
      },
      answer: () =>
        json.plain
          ? { content: prose, generatedCode: '' }
          : { content: json.fields.explanation ?? '', generatedCode: json.fields.code ?? '' },
    }
  },
}
