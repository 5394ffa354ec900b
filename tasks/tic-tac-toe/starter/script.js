// The board is nine strings, row by row: 'X', 'O' or '' for an empty cell.
const LINES = [
  [0, 1, 2], [3, 4, 5], [6, 7, 8],
  [0, 3, 6], [1, 4, 7], [2, 5, 8],
  [0, 4, 8], [2, 4, 6],
]

let board = Array(9).fill('')
let currentPlayer = 'X'
let gameOver = false

const cells = document.querySelectorAll('.cell')
const statusLine = document.getElementById('status')
const resetButton = document.getElementById('reset')

/** The winning line (three cell numbers) or null. */
function findWinningLine(board) {
  // TODO
  return null
}

function handleCellClick(event) {
  const index = Number(event.target.dataset.index)
  // TODO: ignore taken cells and finished games, place the mark, check for a win or a draw,
  // update the status line and switch players.
}

function resetGame() {
  // TODO: empty the board, remove the highlight and let X start again.
}

cells.forEach((cell) => cell.addEventListener('click', handleCellClick))
resetButton.addEventListener('click', resetGame)
