/**
 * LLM judge: POST /api/llm-judge asks the vision model named by JUDGE_MODEL whether a screenshot of the
 * learner's page meets one requirement. Bodies up to JUDGE_MAX_BODY_BYTES are accepted on this route.
 */
import { Elysia } from 'elysia'
import { AppError, errorResponses } from '../errors'
import type { Logger } from '../logging'
import type { Metrics } from '../metrics'
import type { ProviderRegistry } from '../providers/provider'
import type { Quotas } from '../access/quotas'
import { JudgeRequest, JudgeResponse } from './model'
import { judgeScreenshot } from './service'

/** The settings this module reads (src/config.ts documents each). */
export interface JudgeSettings {
  JUDGE_MODEL: string
}

export interface JudgeRouteDeps {
  config: JudgeSettings
  providers: ProviderRegistry
  logger: Logger
  /** The max_tokens cap and the client's token budget (src/access/quotas.ts). */
  quotas?: Pick<Quotas, 'budget' | 'maxTokens'>
  /** Counts judge calls by outcome (src/metrics). */
  metrics?: Pick<Metrics, 'judged'>
}

export const judge = ({ config, providers, logger, quotas, metrics }: JudgeRouteDeps) =>
  new Elysia({ name: 'judge', tags: ['LLM judge'] }).post(
    '/api/llm-judge',
    async ({ body, request, server }) => {
      const limits = quotas ? { maxTokens: quotas.maxTokens, budget: quotas.budget(request, server) } : {}
      try {
        const answer = await judgeScreenshot(
          { providers, model: config.JUDGE_MODEL, logger, ...limits },
          body,
          request.signal,
        )
        metrics?.judged(answer.judgment)
        return answer
      } catch (error) {
        metrics?.judged(error instanceof AppError ? error.code : 'error')
        throw error
      }
    },
    {
      body: JudgeRequest,
      response: { 200: JudgeResponse, ...errorResponses(400, 429, 502, 503) },
      detail: {
        summary: 'Judge a screenshot',
        description:
          'Sends the screenshot (PNG, JPEG, WebP or GIF data URL, up to 20 MB decoded) and the test description ' +
          'to the vision model JUDGE_MODEL and returns `{ judgment: "pass"|"fail", explanation, model }`. ' +
          '400 for a missing or invalid screenshot or description, 503 when no provider is configured for the ' +
          'model, 502 when the model fails or keeps answering malformed output, 429 quota_exceeded when the ' +
          "client's AI tokens of the day are spent.",
      },
    },
  )
