import { expect, test } from 'bun:test'
import { codeAllowance, hintLevel } from '../../src/tutor/hints'

test('without an asked-for level a conversation starts at 1 and rises by one, up to the task maximum', () => {
  const levels: number[] = []
  let previous: number | undefined
  for (let i = 0; i < 6; i++) levels.push((previous = hintLevel({ previous, max: 3 })))
  expect(levels).toEqual([1, 2, 3, 3, 3, 3])
})

test('an asked-for level is used as it is, never above the task maximum', () => {
  expect(hintLevel({ requested: 4, previous: 1, max: 4 })).toBe(4)
  expect(hintLevel({ requested: 1, previous: 3, max: 4 })).toBe(1)
  expect(hintLevel({ requested: 4, max: 2 })).toBe(2)
})

test('code lines allowed: none below level 4, the configured lines at 4', () => {
  expect([1, 2, 3, 4].map((level) => codeAllowance(level, 6))).toEqual([0, 0, 0, 6])
})
