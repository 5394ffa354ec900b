import { expect, test } from 'bun:test'
import { instructionsText } from '../../src/tutor/html-text'

test('instructions become readable text: images as their alt text, scripts and data URLs gone', () => {
  const html = `<h1>Todo &amp; more</h1>
    <p>Add   items.<img src="data:image/png;base64,${'A'.repeat(5000)}" alt="A list with &quot;milk&quot;"></p>
    <script>alert("x")</script><style>p { color: red }</style><!-- author note -->
    <ul><li>Call <code>add_item(text)</code></li><li>Then&nbsp;&rarr; done</li></ul>
    <pre>def f():
    return 1</pre><img src="x.png">`
  expect(instructionsText(html)).toBe(
    '# Todo & more\n\nAdd items.[image: A list with "milk"]\n\n- Call `add_item(text)`\n- Then → done\n\n' +
      'def f():\n    return 1',
  )
})
