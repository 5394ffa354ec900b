/**
 * `Run` (one endpoint with JSON arguments), `Run tests` (the task's public tests, each shown as it finishes)
 * and `Grade` (the whole task: live progress per test, the score per group and overall, failure screenshots).
 */
import { api, ApiError } from '../api'
import { byId, el, notify, showJson } from '../dom'
import { backendCode, changes, frontendCode, state } from '../state'
import type { Json, StreamedResult, TaskTest } from '../types'
import { liveTestList, pre, scoreLine } from './results'

const results = () => byId('results')

function show(...nodes: (Node | string)[]) {
  results().replaceChildren(el('h3', { id: 'results-heading' }, 'Results'), ...nodes)
}

const problem = (error: unknown) =>
  el('p', { class: 'error', role: 'alert' }, error instanceof Error ? error.message : String(error))

/** Keeps a button from starting a second run of the same kind while one is going. */
async function busy(button: HTMLButtonElement, work: () => Promise<void>) {
  if (button.getAttribute('aria-disabled') === 'true') return
  button.setAttribute('aria-disabled', 'true')
  try {
    await work()
  } finally {
    button.removeAttribute('aria-disabled')
  }
}

function argumentsFor(endpoint: string, parameters: { name: string }[]): string {
  const test = state.detail?.task.tests.find((t) => t.public && t.endpoint === endpoint && t.input)
  if (test?.input) return JSON.stringify(test.input)
  return JSON.stringify(Object.fromEntries(parameters.map((p) => [p.name, null])))
}

export function mountRun() {
  const endpointSelect = byId<HTMLSelectElement>('endpoint')
  const argsBox = byId<HTMLTextAreaElement>('args')
  let endpoints: { endpoint: string; name: string; parameters: { name: string }[] }[] = []
  let listed = ''
  let timer: ReturnType<typeof setTimeout> | undefined

  /** Lists the @endpoint functions of the back end (parsed, not run) into the Endpoint picker. */
  /** Why the last listing found nothing to call (a syntax error, a refusal), for Run to say. */
  let listingProblem: string | undefined
  const listEndpoints = async () => {
    const code = backendCode()
    if (code === listed) return
    listed = code
    listingProblem = undefined
    if (!code.trim()) return void endpointSelect.replaceChildren()
    try {
      const answer = await api.endpoints(code)
      if (!answer.success) {
        listingProblem = String(answer.error ?? 'The back end could not be read.')
        return void endpointSelect.replaceChildren()
      }
      const chosen = endpointSelect.value
      endpoints = answer.endpoints
      endpointSelect.replaceChildren(...endpoints.map((e) => el('option', { value: e.endpoint }, e.endpoint)))
      if (endpoints.some((e) => e.endpoint === chosen)) endpointSelect.value = chosen
      else if (endpoints[0]) argsBox.value = argumentsFor(endpoints[0].endpoint, endpoints[0].parameters)
    } catch (error) {
      listingProblem = (error as Error).message
      listed = '' // try again on the next change
    }
  }
  const soon = () => {
    clearTimeout(timer)
    timer = setTimeout(() => void listEndpoints(), 500)
  }
  changes.addEventListener('task', () => {
    listed = ''
    void listEndpoints()
  })
  changes.addEventListener('files', soon)
  byId('backend-editor').addEventListener('keyup', soon)
  byId('backend-editor').addEventListener('input', soon)
  endpointSelect.addEventListener('focus', () => void listEndpoints())
  endpointSelect.addEventListener('change', () => {
    const chosen = endpoints.find((e) => e.endpoint === endpointSelect.value)
    if (chosen) argsBox.value = argumentsFor(chosen.endpoint, chosen.parameters)
  })

  const run = byId<HTMLButtonElement>('run')
  run.addEventListener('click', () =>
    busy(run, async () => {
      await listEndpoints()
      const endpoint = endpointSelect.value
      if (!endpoint) return show(problem(listingProblem ?? 'No @endpoint function found in the back end.'))
      let args: Json
      try {
        args = JSON.parse(argsBox.value || '{}')
      } catch {
        return show(problem('The arguments are not valid JSON.'))
      }
      show(el('p', {}, `Running ${endpoint}…`))
      try {
        show(...callResult(endpoint, await api.call(backendCode(), endpoint, args)))
      } catch (error) {
        show(problem(error))
      }
    }),
  )

  const runTests = byId<HTMLButtonElement>('run-tests')
  runTests.addEventListener('click', () =>
    busy(runTests, async () => {
      const detail = state.detail
      if (!detail) return show(problem('Choose a task first.'))
      const names = detail.task.tests.filter((t) => t.public && t.kind !== 'judge').map((t) => t.name)
      await streamed('Test results', names, (onResult) =>
        api.runTests({ task: detail.task.slug, backendCode: backendCode(), frontendCode: frontendCode() }, onResult),
      )
    }),
  )

  const grade = byId<HTMLButtonElement>('grade')
  grade.addEventListener('click', () =>
    busy(grade, async () => {
      const detail = state.detail
      if (!detail) return show(problem('Choose a task first.'))
      const names = detail.task.tests.map((t: TaskTest) => t.name)
      const code = backendCode()
      await streamed('Grading results', names, (onResult) =>
        api.grade(
          {
            task: detail.task.slug,
            ...(code.trim() ? { backendCode: code } : {}),
            frontendCode: frontendCode(),
            include_private: true,
          },
          onResult,
        ),
      )
      changes.dispatchEvent(new Event('graded'))
    }),
  )
}

function callResult(endpoint: string, answer: Json): Node[] {
  const nodes: Node[] = [el('p', {}, `${endpoint}: ${answer.success ? 'returned' : 'failed'}`)]
  if (answer.success) nodes.push(el('h4', {}, 'Result'), pre(showJson(answer.result), 'Result'))
  else nodes.push(el('p', { class: 'error', role: 'alert' }, `${answer.error_type ?? 'error'}: ${answer.error ?? ''}`))
  if (answer.stdout) nodes.push(el('h4', {}, 'Output'), pre(answer.stdout, 'Output'))
  if (answer.stderr) nodes.push(el('h4', {}, 'Errors'), pre(answer.stderr, 'Errors'))
  return nodes
}

/** Runs a streamed batch, filling a live list, then shows its summary (and the score of a grading). */
async function streamed(
  label: string,
  names: string[],
  start: (onResult: (result: StreamedResult) => void) => Promise<Json>,
) {
  const live = liveTestList(label, names)
  const progress = el('p', { class: 'progress' }, `0 of ${names.length} tests done`)
  show(progress, live.list)
  try {
    const summary = await start((result) => {
      live.add(result)
      progress.textContent = `${live.done} of ${Math.max(names.length, live.done)} tests done`
    })
    live.finish()
    progress.replaceWith(...summaryNodes(summary))
  } catch (error) {
    live.finish()
    progress.replaceWith(problem(error))
    if (error instanceof ApiError && error.status === 429)
      notify(`Too many runs; try again in ${error.retryAfter ?? 'a few'} s.`)
  }
}

function summaryNodes(summary: Json): Node[] {
  const nodes: Node[] = []
  if (summary?.score) nodes.push(el('p', { class: 'score' }, scoreLine(summary.score)))
  if (summary?.attempt_id) nodes.push(el('p', { class: 'muted' }, 'Saved: this grading is in your History.'))
  const counts = (group: Json) =>
    `${group.passed} passed, ${group.failed} failed, ${group.errors} errors, ${group.skipped} skipped of ${group.total}`
  if (summary?.groups) {
    const names: Record<string, string> = { backend: 'Endpoint tests', frontend: 'Browser tests', html: 'Design tests' }
    const items = Object.entries(summary.groups as Record<string, Json>)
      .filter(([, group]) => group.total > 0)
      .map(([key, group]) => {
        const graded = group.total - group.skipped
        const percent = graded ? Math.round((group.passed / graded) * 1000) / 10 : 0
        return el('li', {}, `${names[key] ?? key}: ${graded ? `${percent}%` : 'not graded'} (${counts(group)})`)
      })
    nodes.push(el('ul', { class: 'groups', 'aria-label': 'Score per group' }, ...items))
  } else if (summary?.summary) {
    nodes.push(el('p', { class: 'score' }, counts(summary.summary)))
  }
  return nodes
}
