/**
 * The page the learner's front end is shown in. The playground puts it in an iframe with
 * sandbox="allow-scripts" (never allow-same-origin), waits for it to load and posts it the learner's HTML (styles
 * and scripts inlined), which it writes over itself.
 *
 * Why a page of its own rather than `srcdoc`: an srcdoc frame inherits the playground's policy, which runs no
 * inline script, so the learner's scripts would not run. This page has its own policy: inline scripts and
 * styles (the learner's), no network at all (connect-src 'none': the page never reaches the API, with or
 * without a key), and `sandbox` again, so that even opened on its own it has an opaque origin and cannot read
 * the playground's storage, where the access key is.
 */
export const PREVIEW_POLICY = [
  'sandbox allow-scripts allow-modals',
  "default-src 'none'",
  "script-src 'unsafe-inline'",
  "style-src 'unsafe-inline'",
  'img-src data: blob:',
  'font-src data:',
  'media-src data: blob:',
  "connect-src 'none'",
  "form-action 'none'",
  "base-uri 'none'",
  "frame-ancestors 'self'",
].join('; ')

// The first well-formed message from the parent frame wins: document.open() then replaces this page, listener and all.
export const PREVIEW_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Preview</title></head>
<body><script>
addEventListener('message', function (event) {
  if (event.source !== parent || !event.data || typeof event.data.html !== 'string') return
  document.open()
  document.write(event.data.html)
  document.close()
})
</script></body></html>
`
