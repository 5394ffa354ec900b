/** SQL migration files imported `with { type: 'text' }`, so the compiled binary carries them. */
declare module '*.sql' {
  const source: string
  export default source
}
