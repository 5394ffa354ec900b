const display = document.getElementById('display')
let expression = ''

/** Computes the value of an expression like "2+3*4" without eval; returns a number or 'Error'. */
function compute(expression) {
  // TODO: multiplication and division before addition and subtraction
  return 0
}

function press(key) {
  // TODO: digits, '.', operators, '=', 'C' and 'Backspace'
  display.textContent = expression || '0'
}

document.querySelectorAll('[data-key]').forEach((button) =>
  button.addEventListener('click', () => press(button.dataset.key)),
)
