/**
 * `History`: the learner's progress on every task and their attempts at the open one (newest first, score and
 * time); opening an attempt shows its results and the files it was graded with.
 */
import { api } from '../api'
import { byId, el, when } from '../dom'
import { state } from '../state'
import type { Json, StreamedResult } from '../types'
import { pre, scoreLine, testItem } from './results'

const percent = (score: Json) => (score ? `${score.percent}%` : '—')

function table(caption: string, head: string[], rows: (string | Node)[][]) {
  return el(
    'table',
    {},
    el('caption', {}, caption),
    el('thead', {}, el('tr', {}, ...head.map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, ...rows.map((row) => el('tr', {}, ...row.map((cell) => el('td', {}, cell))))),
  )
}

export function mountHistory() {
  const progress = byId('progress')
  const attempts = byId('attempts')
  const detail = byId('attempt')

  const unavailable = (error: unknown) => el('p', { class: 'muted' }, `Not available: ${(error as Error).message}`)

  attempts.addEventListener('click', async (event) => {
    const id = (event.target as HTMLElement).closest<HTMLElement>('[data-id]')?.dataset.id
    if (!id) return
    try {
      const attempt = await api.attempt(id)
      const files = Object.entries((attempt.files ?? {}) as Record<string, unknown>).flatMap(([name, content]) =>
        typeof content === 'string'
          ? [el('h5', {}, name), pre(content, name)]
          : Object.entries((content ?? {}) as Record<string, string>).flatMap(([file, text]) => [
              el('h5', {}, file),
              pre(String(text), file),
            ]),
      )
      detail.replaceChildren(
        el('h4', {}, `Attempt of ${when(attempt.created_at)}`),
        el('p', { class: 'score' }, scoreLine(attempt.score)),
        el(
          'ol',
          { class: 'tests', 'aria-label': 'Results of this attempt' },
          ...(attempt.results as StreamedResult[]).map((r) => testItem(r.testName, r)),
        ),
        el('h4', {}, 'Files'),
        ...files,
      )
    } catch (error) {
      detail.replaceChildren(unavailable(error))
    }
  })

  return {
    async refresh() {
      detail.replaceChildren()
      try {
        const answer = await api.progress()
        progress.replaceChildren(
          table(
            `Progress of ${answer.learner}`,
            ['Task', 'Attempts', 'Best score', 'Completed'],
            (answer.tasks as Json[]).map((t) => [
              t.title || t.task,
              String(t.attempts),
              percent(t.best),
              t.completed ? 'yes' : 'no',
            ]),
          ),
        )
      } catch (error) {
        progress.replaceChildren(unavailable(error))
      }
      const slug = state.detail?.task.slug
      if (!slug)
        return void attempts.replaceChildren(el('li', { class: 'muted' }, 'Choose a task to see your attempts.'))
      try {
        const answer = await api.attempts(slug)
        const items = (answer.attempts as Json[]).map((a) =>
          el(
            'li',
            {},
            el(
              'button',
              { type: 'button', class: 'link', 'data-id': String(a.id) },
              `${when(a.created_at)}: ${percent(a.score)}${a.regrade ? ' (regraded)' : ''}`,
            ),
          ),
        )
        attempts.replaceChildren(
          ...(items.length ? items : [el('li', { class: 'muted' }, 'No attempts yet: Grade saves one.')]),
        )
      } catch (error) {
        attempts.replaceChildren(el('li', {}, unavailable(error)))
      }
    },
  }
}
