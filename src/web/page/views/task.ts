/** The `Task` picker and the task's instructions. */
import { api } from '../api'
import { byId, el, notify } from '../dom'
import { renderInstructions } from '../markdown'
import { changes, lastTask, openTask, state } from '../state'
import type { TaskDetail } from '../types'

export function mountTaskPicker(): { loadTasks(): Promise<void> } {
  const select = byId<HTMLSelectElement>('task')
  const instructions = byId('instructions')

  const open = async (slug: string) => {
    if (!slug) return
    try {
      openTask((await api.task(slug)) as TaskDetail)
    } catch (error) {
      notify(`The task could not be opened: ${(error as Error).message}`)
    }
  }

  select.addEventListener('change', () => void open(select.value))
  changes.addEventListener('task', () => {
    const detail = state.detail!
    select.value = detail.task.slug
    instructions.replaceChildren(renderInstructions(detail.task.description))
    document.title = `${detail.task.name} · Playground`
  })

  return {
    async loadTasks() {
      const { tasks } = await api.tasks()
      select.replaceChildren(
        el('option', { value: '' }, 'Choose a task…'),
        ...tasks.map((task) => el('option', { value: task.slug }, task.name)),
      )
      const last = lastTask()
      if (tasks.some((task) => task.slug === last)) await open(last)
    },
  }
}
