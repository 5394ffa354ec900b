/**
 * The one place where text becomes HTML: the tutor's markdown and a task's instructions. Both go through
 * DOMPurify (no script, no event handler, no javascript: URL survives). In the tutor's answers raw HTML is not
 * even rendered: marked's HTML tokens come out as escaped text, so `<img onerror=…>` reads as what it is.
 */
import DOMPurify from 'dompurify'
import { Marked } from 'marked'

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)

const marked = new Marked({
  async: false,
  gfm: true,
  breaks: true,
  renderer: { html: ({ text }) => escapeHtml(text) },
})

DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A') {
    node.setAttribute('target', '_blank')
    node.setAttribute('rel', 'noopener noreferrer')
  }
})

const PURIFY = {
  RETURN_DOM_FRAGMENT: true as const,
  FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select'],
}

/** A model's markdown as safe DOM. */
export function renderMarkdown(markdown: string): DocumentFragment {
  return DOMPurify.sanitize(marked.parse(markdown) as string, PURIFY)
}

/** A task's instructions HTML (images as data: URLs stay; scripts and handlers go) as safe DOM. */
export function renderInstructions(html: string): DocumentFragment {
  return DOMPurify.sanitize(html, PURIFY)
}
