/**
 * `Class` (admins only; the button shows once the server lets this key read the class's progress): progress per
 * learner and task, and `Download CSV` of the grades.
 */
import { api } from '../api'
import { byId, el, notify, when } from '../dom'
import { state } from '../state'
import type { Json } from '../types'

export function mountClass() {
  const button = byId('show-class')
  const holder = byId('class-table')

  byId('download-csv').addEventListener('click', async () => {
    try {
      const csv = await api.gradesCsv(state.detail?.task.slug)
      const link = el('a', { href: URL.createObjectURL(csv), download: 'grades.csv', hidden: true })
      document.body.append(link)
      link.click()
      link.remove()
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000)
    } catch (error) {
      notify(`The grades could not be downloaded: ${(error as Error).message}`)
    }
  })

  return {
    /** Shows the Class button when this caller may read the class's progress (an admin, or an open server). */
    async detect() {
      try {
        await api.classProgress()
        button.hidden = false
      } catch {
        button.hidden = true
      }
    },
    async refresh() {
      try {
        const { learners } = await api.classProgress(state.detail?.task.slug)
        const rows = (learners as Json[]).flatMap((learner) =>
          (learner.tasks as Json[]).map((t) =>
            el(
              'tr',
              {},
              el('td', {}, String(learner.learner)),
              el('td', {}, String(t.task)),
              el('td', {}, String(t.attempts)),
              el('td', {}, t.best ? `${t.best.percent}%` : '—'),
              el('td', {}, t.completed ? 'yes' : 'no'),
              el('td', {}, when(t.last_at)),
            ),
          ),
        )
        holder.replaceChildren(
          el(
            'table',
            {},
            el('caption', {}, state.detail ? `Progress on ${state.detail.task.name}` : 'Progress of the class'),
            el(
              'thead',
              {},
              el(
                'tr',
                {},
                ...['Learner', 'Task', 'Attempts', 'Best score', 'Completed', 'Last attempt'].map((h) =>
                  el('th', { scope: 'col' }, h),
                ),
              ),
            ),
            el('tbody', {}, ...rows),
          ),
        )
      } catch (error) {
        holder.replaceChildren(el('p', { class: 'muted' }, `Not available: ${(error as Error).message}`))
      }
    },
  }
}
