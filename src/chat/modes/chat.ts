/** `chat` mode: the model's text is the answer, relayed as it comes. */
import type { AssistantMode } from './mode'

export const chatMode: AssistantMode = {
  reader() {
    let content = ''
    return {
      read(text) {
        content += text
        return text ? [{ type: 'chunk', content: text }] : []
      },
      answer: () => ({ content, generatedCode: '' }),
    }
  },
}
