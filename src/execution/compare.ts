/**
 * Test-case comparison (docs/api.md, "API"): deep JSON equality, numbers by value (1 == 1.0), object key order
 * ignored, booleans never equal to numbers.
 *
 * @example
 * sameJson({ a: [1, 2.0] }, { a: [1, 2] }) // true
 */
export function sameJson(actual: unknown, expected: unknown): boolean {
  if (typeof actual !== typeof expected) return false
  if (actual === null || expected === null) return actual === expected
  if (Array.isArray(actual) || Array.isArray(expected)) {
    if (!Array.isArray(actual) || !Array.isArray(expected) || actual.length !== expected.length) return false
    return actual.every((item, i) => sameJson(item, expected[i]))
  }
  if (typeof actual === 'object') {
    const a = actual as Record<string, unknown>
    const e = expected as Record<string, unknown>
    const keys = Object.keys(a)
    if (keys.length !== Object.keys(e).length) return false
    return keys.every((key) => Object.hasOwn(e, key) && sameJson(a[key], e[key]))
  }
  return actual === expected
}
