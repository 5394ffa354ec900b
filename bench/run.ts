/**
 * Runs every benchmark in bench/ (files named *.bench.ts exporting `run()`) one after the other and prints one
 * table each. `bun run bench`, or `bun run bench chat` to run only the files whose name contains "chat".
 * Benchmarks start their own servers on 127.0.0.1 and stop them; nothing here runs in the test suite.
 */
import { Glob } from 'bun'

const only = process.argv[2]
const files = [...new Glob('*.bench.ts').scanSync(import.meta.dir)].sort().filter((f) => !only || f.includes(only))
for (const file of files) {
  const bench = (await import(`./${file}`)) as { run?: () => Promise<Record<string, unknown>[]> }
  if (!bench.run) continue
  console.log(`\n${file}`)
  const started = performance.now()
  console.table(await bench.run())
  console.log(`(${((performance.now() - started) / 1000).toFixed(1)} s)`)
}
process.exit(0)
