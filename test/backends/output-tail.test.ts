import { describe, expect, test } from 'bun:test'
import { OutputTail } from '../../src/backends/output-tail'

describe('OutputTail', () => {
  test('keeps everything below the limit and only the last `limit` characters beyond it', () => {
    const tail = new OutputTail(10)
    tail.push('hello ')
    expect(tail.toString()).toBe('hello ')
    for (let i = 0; i < 100; i++) tail.push(`${i},`)
    expect(tail.toString()).toBe(',97,98,99,')
    tail.push(`${'x'.repeat(25)}the end`)
    expect(tail.toString()).toBe('xxxthe end')
  })
})
