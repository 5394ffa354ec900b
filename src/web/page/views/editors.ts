/**
 * The two editors (CodeMirror 6): `Backend code` (Python) and `Frontend code`, one tab per front-end file, each
 * tab keeping its own undo history. Every change is saved (state.edit); `Reset` puts back the starter files.
 */
import { basicSetup } from 'codemirror'
import { css } from '@codemirror/lang-css'
import { html } from '@codemirror/lang-html'
import { javascript } from '@codemirror/lang-javascript'
import { python } from '@codemirror/lang-python'
import { EditorState, type Extension } from '@codemirror/state'
import { EditorView } from '@codemirror/view'
import { byId, el, notify } from '../dom'
import { changes, type CodeFile, edit, resetFiles, state } from '../state'

function language(file: CodeFile): Extension {
  const name = `${file.language} ${file.name}`.toLowerCase()
  if (/python|\.py\b/.test(name)) return python()
  if (/html|\.html?\b/.test(name)) return html()
  if (/css|\.css\b/.test(name)) return css()
  if (/javascript|\.m?js\b/.test(name)) return javascript()
  return []
}

/** CodeMirror's own <style> elements carry the nonce this response's policy allows (see src/web/index.ts). */
const nonce = document.querySelector<HTMLMetaElement>('meta[name="style-nonce"]')?.content ?? ''

/** An editor with nothing to edit (no task open, or a task without such files). */
const emptyState = (label: string) =>
  EditorState.create({
    doc: '',
    extensions: [
      EditorView.cspNonce.of(nonce),
      EditorView.editable.of(false),
      EditorView.contentAttributes.of({ 'aria-label': label, tabindex: '0' }),
    ],
  })

function editorState(file: CodeFile, label: string): EditorState {
  return EditorState.create({
    doc: file.content,
    extensions: [
      basicSetup,
      language(file),
      EditorView.cspNonce.of(nonce),
      EditorView.contentAttributes.of({ 'aria-label': label, tabindex: '0' }),
      EditorView.updateListener.of((update) => {
        if (update.docChanged) edit(file, update.state.doc.toString())
      }),
    ],
  })
}

export function mountEditors() {
  const backend = new EditorView({ parent: byId('backend-editor'), state: emptyState('Backend code') })
  const frontend = new EditorView({ parent: byId('frontend-editor'), state: emptyState('Frontend code') })
  const tabs = byId('frontend-tabs')
  const panel = byId('frontend-editor')
  let states = new Map<CodeFile, EditorState>()
  let active: CodeFile | undefined

  const select = (file: CodeFile, focus = false) => {
    if (active) states.set(active, frontend.state)
    active = file
    frontend.setState(states.get(file) ?? editorState(file, 'Frontend code'))
    for (const tab of tabs.querySelectorAll<HTMLButtonElement>('[role="tab"]')) {
      const selected = tab.dataset.file === file.id
      tab.setAttribute('aria-selected', String(selected))
      tab.tabIndex = selected ? 0 : -1
      if (selected) {
        panel.setAttribute('aria-labelledby', tab.id)
        if (focus) tab.focus()
      }
    }
  }

  const load = () => {
    backend.setState(state.backend ? editorState(state.backend, 'Backend code') : emptyState('Backend code'))
    states = new Map()
    active = undefined
    tabs.replaceChildren(
      ...state.frontend.map((file) =>
        el(
          'button',
          {
            type: 'button',
            role: 'tab',
            id: `tab-${file.id}`,
            'data-file': file.id,
            'aria-controls': 'frontend-editor',
          },
          file.name,
        ),
      ),
    )
    if (state.frontend[0]) select(state.frontend[0])
    else frontend.setState(emptyState('Frontend code'))
  }

  tabs.addEventListener('click', (event) => {
    const tab = (event.target as HTMLElement).closest<HTMLButtonElement>('[role="tab"]')
    const file = state.frontend.find((f) => f.id === tab?.dataset.file)
    if (file) select(file)
  })
  // Arrow keys move between tabs (the tabs pattern): one tab stop for the whole list.
  tabs.addEventListener('keydown', (event) => {
    const index = state.frontend.indexOf(active!)
    const step = event.key === 'ArrowRight' ? 1 : event.key === 'ArrowLeft' ? -1 : 0
    if (!step || index < 0) return
    const next = state.frontend[(index + step + state.frontend.length) % state.frontend.length]
    if (next) select(next, true)
    event.preventDefault()
  })
  byId('reset').addEventListener('click', () => {
    if (!state.detail) return
    resetFiles()
    notify('Your files are back to the starter files.')
  })
  changes.addEventListener('task', load)
  changes.addEventListener('files', load)
}
