// Each todo is { id, text, done }.
let todos = []
let filter = 'all'

const form = document.getElementById('new-todo-form')
const input = document.getElementById('new-todo')
const list = document.getElementById('todo-list')
const counter = document.getElementById('counter')
const filterButtons = document.querySelectorAll('[data-filter]')

function addTodo(text) {
  // TODO: trim the text, ignore empty text, append { id, text, done: false }
}

function toggleTodo(id) {
  // TODO
}

function deleteTodo(id) {
  // TODO
}

function render() {
  // TODO: one <li> per visible todo with a .toggle checkbox, the text and a .delete button;
  // the class "done" on completed ones; update the counter ("1 item left", "2 items left").
}

form.addEventListener('submit', (event) => {
  event.preventDefault()
  addTodo(input.value)
  input.value = ''
  render()
})

filterButtons.forEach((button) =>
  button.addEventListener('click', () => {
    filter = button.dataset.filter
    filterButtons.forEach((b) => b.classList.toggle('selected', b === button))
    render()
  }),
)

render()
