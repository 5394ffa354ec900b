/**
 * How results look: one test per list item (status in words, not colour alone), its message, expected and
 * actual values, and a failed browser test's screenshot. Used by Run tests, Grade and History.
 */
import { el, screenshot, showJson } from '../dom'
import type { StreamedResult } from '../types'

const STATUS_WORDS: Record<string, string> = {
  pass: 'passed',
  fail: 'failed',
  error: 'error',
  skip: 'skipped',
  waiting: 'waiting',
  missed: 'not run',
}

export const pre = (text: string, label: string) => el('pre', { tabindex: '0', 'aria-label': label }, text)

/** The list item of one test: waiting until `result` comes, then its outcome. */
export function testItem(name: string, result?: StreamedResult): HTMLLIElement {
  const item = el('li', { class: 'test', 'data-test': name })
  fillTestItem(item, name, result)
  return item
}

export function fillTestItem(
  item: HTMLElement,
  name: string,
  result?: StreamedResult,
  status = result?.status ?? 'waiting',
) {
  item.dataset.status = status
  const parts: (Node | null)[] = [
    el('span', { class: `badge ${status}` }, STATUS_WORDS[status] ?? status),
    el('span', { class: 'name' }, name),
  ]
  if (result?.message) parts.push(el('p', { class: 'message' }, result.message))
  if (result && (result.status === 'fail' || result.status === 'error') && !result.private) {
    if (result.expected !== undefined && result.expected !== null)
      parts.push(pre(showJson(result.expected), `Expected value of ${name}`))
    if (result.actual !== undefined && result.actual !== null)
      parts.push(pre(showJson(result.actual), `Actual value of ${name}`))
  }
  parts.push(screenshot(result?.screenshot, `Screenshot of the page when “${name}” failed`))
  item.replaceChildren(...parts.filter((part): part is Node => part !== null))
}

/**
 * A list that shows tests as they finish: the names known beforehand wait in order; a result fills its item,
 * or adds one for a name not known beforehand.
 */
export function liveTestList(label: string, names: string[]) {
  const list = el('ol', { class: 'tests', 'aria-label': label })
  const items = new Map<string, HTMLLIElement>()
  for (const name of names) {
    const item = testItem(name)
    items.set(name, item)
    list.append(item)
  }
  let done = 0
  return {
    list,
    get done() {
      return done
    },
    add(result: StreamedResult) {
      done += 1
      const name = result.testName
      const item = items.get(name)
      if (item?.dataset.status === 'waiting') return fillTestItem(item, name, result)
      const added = testItem(name, result)
      list.append(added)
    },
    /** Marks tests that never got a result (the run ended before them). */
    finish() {
      for (const [name, item] of items)
        if (item.dataset.status === 'waiting') fillTestItem(item, name, undefined, 'missed')
    },
  }
}

export function scoreLine(score: { passed?: number; graded?: number; total?: number; percent?: number } | undefined) {
  if (!score) return 'No score'
  return `Score: ${score.percent ?? 0}% (${score.passed ?? 0} of ${score.graded ?? 0} graded tests passed, ${score.total ?? 0} in all)`
}
