// Reference front end of the Todo List (the answer to its browser tests; never served to learners).
// Each todo is { id, text, done }. The list changes only through the backend (solution.py): every change sends
// the whole list to an endpoint and shows the list it answers, so the page and the backend agree on ids.
let todos = []
let filter = 'all'

const form = document.getElementById('new-todo-form')
const input = document.getElementById('new-todo')
const list = document.getElementById('todo-list')
const counter = document.getElementById('counter')
const filterButtons = document.querySelectorAll('[data-filter]')

/** Calls an @endpoint of the backend with keyword arguments; resolves with its result. */
async function call(endpoint, args) {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(args),
  })
  const answer = await response.json()
  return answer.result
}

let pending = Promise.resolve()

/**
 * Sends one change and applies the answer: a new list, or an error code that leaves the list as it was. Changes
 * go one after another, each with the list the previous one answered (two quick adds must not both start from
 * the same list).
 */
function change(endpoint, args) {
  pending = pending.then(async () => {
    try {
      const result = await call(endpoint, { todos, ...args })
      if (result && Array.isArray(result.todos)) todos = result.todos
    } catch (error) {
      console.error(`${endpoint} failed`, error)
    }
    render()
  })
  return pending
}

const addTodo = (text) => (text.trim() ? change('/add_todo', { text }) : undefined)
const toggleTodo = (id) => change('/toggle_todo', { id })
const deleteTodo = (id) => change('/delete_todo', { id })

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
  toggle.addEventListener('change', () => toggleTodo(todo.id))
  const text = document.createElement('span')
  text.className = 'text'
  // textContent, never innerHTML: a todo's text is shown as it was typed.
  text.textContent = todo.text
  const remove = document.createElement('button')
  remove.className = 'delete'
  remove.textContent = 'Delete'
  remove.addEventListener('click', () => deleteTodo(todo.id))
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
})

filterButtons.forEach((button) =>
  button.addEventListener('click', () => {
    filter = button.dataset.filter
    filterButtons.forEach((b) => b.classList.toggle('selected', b === button))
    render()
  }),
)

render()
