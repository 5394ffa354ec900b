/**
 * Builds the real app against fake OpenAI and Anthropic servers on loopback, listening on 127.0.0.1:0 so tests
 * can open real WebSockets. Other services are inert fakes: chat tests should not start sandboxes.
 */
import { createApp } from '../../src/app'
import type { ConfigKey } from '../../src/config'
import type { Logger } from '../../src/logging'
import { testConfig } from '../support/config'
import { startFakeAnthropic } from '../support/fake-anthropic'
import { startFakeOpenAI } from '../support/fake-openai'
import type { FakeServer, Recorded, Reply } from '../support/fake-sse'
import { fakeService } from '../support/services'
import { connectWs } from '../support/ws'

export const OPENAI_KEY = 'sk-test-openai-0123456789'
export const ANTHROPIC_KEY = 'sk-ant-test-0123456789'

type Script = Reply[] | ((request: Recorded, index: number) => Reply)

export interface ChatHarness {
  app: ReturnType<typeof createApp>
  openai: FakeServer
  anthropic: FakeServer
  wsUrl: string
  connect(): ReturnType<typeof connectWs>
  stop(): Promise<void>
}

export function startChat(
  scripts: { openai?: Script; anthropic?: Script; config?: Partial<Record<ConfigKey, string>>; logger?: Logger } = {},
): ChatHarness {
  const openai = startFakeOpenAI(scripts.openai ?? [])
  const anthropic = startFakeAnthropic(scripts.anthropic ?? [])
  const config = testConfig({
    OPENAI_API_KEY: OPENAI_KEY,
    OPENAI_BASE_URL: openai.url,
    ANTHROPIC_API_KEY: ANTHROPIC_KEY,
    ANTHROPIC_BASE_URL: anthropic.url,
    DEFAULT_MODEL: 'gpt-test',
    ...scripts.config,
  })
  const inert = { runner: fakeService({}), tasks: fakeService({}), servers: fakeService({}) }
  const app = createApp({ config, ...(inert as any), ...(scripts.logger ? { logger: scripts.logger } : {}) }).listen({
    hostname: '127.0.0.1',
    port: 0,
  })
  const wsUrl = `ws://127.0.0.1:${app.server!.port}/ws/chat`
  return {
    app,
    openai,
    anthropic,
    wsUrl,
    connect: () => connectWs(wsUrl),
    async stop() {
      await app.stop(true)
      openai.stop()
      anthropic.stop()
    },
  }
}

/** A user message list with one question. */
export const ask = (content: string) => [{ role: 'user' as const, content }]

export const structured = (code: string, explanation: string) => JSON.stringify({ code, explanation })
