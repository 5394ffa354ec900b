// Reference front end of the Todo List (the answer to its browser tests; never served to learners).
// Each todo is { id, text, done }. The page keeps the list itself, as the starter does: an assertion that follows
// a click is retried for a moment only (src/browser/steps.ts), less than a backend's first start on a busy host.
let todos = []
let filter = 'all'
let nextId = 1

const form = document.getElementById('new-todo-form')
const input = document.getElementById('new-todo')
const list = document.getElementById('todo-list')
const counter = document.getElementById('counter')
const filterButtons = document.querySelectorAll('[data-filter]')

function addTodo(text) {
  text = text.trim()
  if (!text) return
  todos.push({ id: nextId++, text, done: false })
}

function toggleTodo(id) {
  todos = todos.map((todo) => (todo.id === id ? { ...todo, done: !todo.done } : todo))
}

function deleteTodo(id) {
  todos = todos.filter((todo) => todo.id !== id)
}

function visible(todo) {
  return filter === 'all' || (filter === 'completed') === todo.done
}

function todoItem(todo) {
  const item = document.createElement('li')
  if (todo.done) item.className = 'done'
  const toggle = document.createElement('input')
  toggle.type = 'checkbox'
  toggle.className = 'toggle'
  toggle.checked = todo.done
  toggle.addEventListener('change', () => {
    toggleTodo(todo.id)
    render()
  })
  const text = document.createElement('span')
  text.className = 'text'
  // textContent, never innerHTML: a todo's text is shown as it was typed.
  text.textContent = todo.text
  const remove = document.createElement('button')
  remove.className = 'delete'
  remove.textContent = 'Delete'
  remove.addEventListener('click', () => {
    deleteTodo(todo.id)
    render()
  })
  item.append(toggle, text, remove)
  return item
}

function render() {
  list.replaceChildren(...todos.filter(visible).map(todoItem))
  const open = todos.filter((todo) => !todo.done).length
  counter.textContent = `${open} ${open === 1 ? 'item' : 'items'} left`
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
