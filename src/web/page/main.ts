/** Starts the playground: mounts each view and opens the last task; starts again after a sign-in. */
import { byId, notify } from './dom'
import { mountClass } from './views/class'
import { mountEditors } from './views/editors'
import { mountHistory } from './views/history'
import { mountPreview } from './views/preview'
import { mountRun } from './views/run'
import { mountSignin } from './views/signin'
import { mountTaskPicker } from './views/task'
import { mountTutor } from './views/tutor'

mountEditors()
mountRun()
mountPreview()
mountTutor()
const picker = mountTaskPicker()
const history = mountHistory()
const classView = mountClass()

const VIEWS = { workspace: 'show-workspace', history: 'show-history', class: 'show-class' } as const
type View = keyof typeof VIEWS

function showView(view: View) {
  for (const [name, button] of Object.entries(VIEWS)) {
    byId(name).hidden = name !== view
    byId(button).setAttribute('aria-pressed', String(name === view))
  }
  if (view === 'history') void history.refresh()
  if (view === 'class') void classView.refresh()
}
for (const [name, button] of Object.entries(VIEWS)) byId(button).addEventListener('click', () => showView(name as View))

async function start() {
  try {
    await picker.loadTasks()
    await classView.detect()
  } catch (error) {
    // A 401 has already brought up the sign-in form; anything else is said here.
    if ((error as { status?: number }).status !== 401)
      notify(`The playground could not start: ${(error as Error).message}`)
  }
}

mountSignin(() => void start())
void start()
