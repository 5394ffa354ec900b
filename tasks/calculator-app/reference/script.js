// Reference front end of the Calculator (the answer to its browser tests; never served to learners).
const display = document.getElementById('display')
const OPERATORS = '+-*/'
let expression = ''
let showingResult = false

/** Splits "12+3.5*4" into numbers and operators; a leading '-' belongs to the number. */
function tokens(expression) {
  const parts = []
  let number = ''
  for (const char of expression) {
    if (OPERATORS.includes(char) && number !== '' && number !== '-') {
      parts.push(Number(number), char)
      number = ''
    } else {
      number += char
    }
  }
  parts.push(Number(number))
  return parts
}

/** Computes the value of an expression like "2+3*4" without eval; returns a number or 'Error'. */
function compute(expression) {
  const parts = tokens(expression)
  if (parts.some((part) => typeof part === 'number' && !Number.isFinite(part))) return 'Error'
  // First pass: * and /, folding into the last number; second pass: + and -.
  const sums = [parts[0]]
  for (let i = 1; i < parts.length; i += 2) {
    const operator = parts[i]
    const right = parts[i + 1]
    if (operator === '*') sums.push(sums.pop() * right)
    else if (operator === '/') {
      if (right === 0) return 'Error'
      sums.push(sums.pop() / right)
    } else sums.push(operator, right)
  }
  let value = sums[0]
  for (let i = 1; i < sums.length; i += 2) value = sums[i] === '+' ? value + sums[i + 1] : value - sums[i + 1]
  return Math.round(value * 1e10) / 1e10
}

function press(key) {
  if (key === 'C') {
    expression = ''
  } else if (key === 'Backspace') {
    expression = showingResult ? '' : expression.slice(0, -1)
  } else if (key === '=') {
    if (expression === '' || OPERATORS.includes(expression.at(-1))) return
    const value = compute(expression)
    display.textContent = String(value)
    expression = value === 'Error' ? '' : String(value)
    showingResult = true
    return
  } else if (OPERATORS.includes(key)) {
    if (expression === '' && key !== '-') return
    // A second operator in a row replaces the first.
    expression = OPERATORS.includes(expression.at(-1)) ? expression.slice(0, -1) + key : expression + key
  } else {
    // A digit or '.' after a result starts a new number.
    if (showingResult) expression = ''
    const current = expression.split(/[-+*/]/).at(-1)
    if (key === '.' && current.includes('.')) return
    expression += key
  }
  showingResult = false
  display.textContent = expression || '0'
}

document.querySelectorAll('[data-key]').forEach((button) =>
  button.addEventListener('click', () => press(button.dataset.key)),
)
