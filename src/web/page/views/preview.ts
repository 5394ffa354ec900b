/**
 * `Preview`: the learner's page in an iframe with sandbox="allow-scripts" and never allow-same-origin, so it
 * runs with an opaque origin: it cannot read this page's storage (where the access key is) or its DOM, and its
 * own policy (src/web/preview-shell.ts) lets it reach no server at all. The frame loads the empty preview page,
 * then is sent the document once, by postMessage; nothing it sends back is listened to.
 */
import { byId, el } from '../dom'
import { previewDocument } from '../preview-html'
import { changes, frontendCode, state } from '../state'

export function mountPreview() {
  const pane = byId('preview-pane')
  const show = () => {
    if (!state.detail) return
    const html = previewDocument(frontendCode())
    const frame = el('iframe', {
      title: 'Preview',
      sandbox: 'allow-scripts',
      src: '/play/preview',
      class: 'preview-frame',
    })
    frame.addEventListener('load', () => frame.contentWindow?.postMessage({ html }, '*'), { once: true })
    pane.replaceChildren(el('h3', { id: 'preview-heading' }, 'Page preview'), frame)
    pane.hidden = false
  }
  byId('preview').addEventListener('click', show)
  changes.addEventListener('task', () => {
    pane.hidden = true
    pane.replaceChildren(el('h3', { id: 'preview-heading' }, 'Page preview'))
  })
}
