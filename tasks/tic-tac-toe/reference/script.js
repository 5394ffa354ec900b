// Reference front end of Tic Tac Toe (the answer to its browser tests; never served to learners).
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
  return LINES.find(([a, b, c]) => board[a] && board[a] === board[b] && board[a] === board[c]) ?? null
}

function handleCellClick(event) {
  const index = Number(event.target.dataset.index)
  if (gameOver || board[index]) return
  board[index] = currentPlayer
  event.target.textContent = currentPlayer
  event.target.classList.add(currentPlayer.toLowerCase())
  const line = findWinningLine(board)
  if (line) {
    line.forEach((i) => cells[i].classList.add('win'))
    statusLine.textContent = `Player ${currentPlayer} wins!`
    gameOver = true
  } else if (board.every(Boolean)) {
    statusLine.textContent = "It's a draw!"
    gameOver = true
  } else {
    currentPlayer = currentPlayer === 'X' ? 'O' : 'X'
    statusLine.textContent = `Player ${currentPlayer}'s turn`
  }
}

function resetGame() {
  board = Array(9).fill('')
  currentPlayer = 'X'
  gameOver = false
  cells.forEach((cell) => {
    cell.textContent = ''
    cell.classList.remove('win', 'x', 'o')
  })
  statusLine.textContent = "Player X's turn"
}

cells.forEach((cell) => cell.addEventListener('click', handleCellClick))
resetButton.addEventListener('click', resetGame)
