import { describe, expect, test } from 'bun:test'
import { csvCell, gradesCsv } from '../../src/learners/service'

describe('grades CSV', () => {
  test('cells are quoted by RFC 4180 only when they must be', () => {
    expect(csvCell('alice')).toBe('alice')
    expect(csvCell('a,b')).toBe('"a,b"')
    expect(csvCell('say "hi"')).toBe('"say ""hi"""')
    expect(csvCell('two\r\nlines')).toBe('"two\r\nlines"')
    expect(csvCell(87.5)).toBe('87.5')
    expect(csvCell(null)).toBe('')
    expect(csvCell(false)).toBe('false')
  })

  test('a cell a spreadsheet would run as a formula gets a leading quote', () => {
    expect(csvCell('=1+1')).toBe("'=1+1")
    expect(csvCell('+1')).toBe("'+1")
    expect(csvCell('-1')).toBe("'-1")
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)")
    expect(csvCell('\t=1')).toBe("'\t=1")
    expect(csvCell('=HYPERLINK("http://x","y")')).toBe(`"'=HYPERLINK(""http://x"",""y"")"`)
    expect(csvCell('a=1')).toBe('a=1')
  })

  test('one row per learner and task under the header, CRLF line ends', () => {
    const score = { passed: 1, graded: 2, total: 2, percent: 50 }
    const csv = gradesCsv([
      {
        learner: '=evil',
        tasks: [
          { task: 'x', attempts: 2, best: score, last: score, last_at: '2026-01-01T00:00:00.000Z', completed: false },
          { task: 'y', attempts: 0, best: null, last: null, last_at: null, completed: false },
        ],
      },
    ])
    expect(csv).toBe(
      'learner,task,attempts,best_percent,last_percent,completed,last_attempt_at\r\n' +
        "'=evil,x,2,50,50,false,2026-01-01T00:00:00.000Z\r\n" +
        "'=evil,y,0,,,false,\r\n",
    )
  })
})
