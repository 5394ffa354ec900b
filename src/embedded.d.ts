/** Files imported `with { type: 'text' }` (Python sources embedded in the compiled binary). */
declare module '*.py' {
  const source: string
  export default source
}
