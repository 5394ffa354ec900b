/**
 * Schemas of the tasks folder (what we read from disk) and of the task routes (what we send). Task files are
 * validated with these at load time; a file that does not match makes its task "broken" (logged, skipped).
 */
import { t } from 'elysia'

const RelativePath = t.String({
  minLength: 1,
  description: 'A path relative to the task folder, with forward slashes; it must stay inside the folder.',
})

// ---------------------------------------------------------------- task.json

export const TaskFileEntry = t.Object(
  {
    path: RelativePath,
    name: t.Optional(t.String({ minLength: 1, description: 'Name shown in the editor; default: the file name.' })),
    language: t.Optional(t.String({ minLength: 1, description: 'Editor language; default: from the extension.' })),
  },
  { additionalProperties: false },
)

/** How the AI tutor may help with a task (src/tutor). */
export const TaskTutor = t.Object(
  {
    max_hint_level: t.Optional(
      t.Integer({
        minimum: 1,
        maximum: 4,
        description: 'Highest hint level the tutor goes to (1 nudge … 4 a short code fragment); default 4.',
      }),
    ),
    autocomplete: t.Optional(
      t.Boolean({
        description: 'false: the structured (autocomplete) chat mode is refused for this task; default true.',
      }),
    ),
  },
  { additionalProperties: false },
)
export type TaskTutor = typeof TaskTutor.static

export const TaskManifest = t.Object(
  {
    name: t.String({ minLength: 1, description: 'Display name, also accepted by GET /tasks/{task_name}.' }),
    slug: t.Optional(
      t.String({ pattern: '^[a-z0-9][a-z0-9-]*$', description: 'URL name; must equal the folder name when given.' }),
    ),
    summary: t.String({ minLength: 1, description: 'One or two sentences shown in task lists.' }),
    description: RelativePath,
    files: t.Array(TaskFileEntry, { description: 'Starter files, in the order the editor shows them.' }),
    tests: t.Object(
      {
        backend: t.Optional(RelativePath),
        frontend: t.Optional(RelativePath),
        html: t.Optional(RelativePath),
      },
      { additionalProperties: false, description: 'Test folders by kind; each holds *.json test files.' },
    ),
    solution: t.Optional(t.Union([RelativePath, t.Null()], { description: 'Reference backend; never served.' })),
    tutor: t.Optional(TaskTutor),
  },
  { additionalProperties: false },
)
export type TaskManifest = typeof TaskManifest.static

// ---------------------------------------------------------------- tests

const TestName = t.String({ minLength: 1 })
const Public = t.Optional(t.Boolean({ description: 'Shown to the learner before submitting; default true.' }))

export const EndpointTestCase = t.Object(
  {
    name: TestName,
    endpoint: t.String({ pattern: '^/', description: 'Path given to @endpoint, e.g. /check_winner.' }),
    input: t.Optional(t.Record(t.String(), t.Unknown(), { description: 'Keyword arguments of the call.' })),
    expected: t.Unknown({ description: 'The JSON value the call must return.' }),
    description: t.Optional(t.String()),
    public: Public,
  },
  { additionalProperties: false },
)

const ACTIONS = ['click', 'input', 'set', 'wait'] as const
const ASSERTIONS = [
  'elementText',
  'elementTextContains',
  'elementVisible',
  'elementExists',
  'elementAttribute',
  'elementValue',
  'elementCount',
  'elementCSS',
] as const

export const ActionStep = t.Object(
  {
    action: t.Union(ACTIONS.map((a) => t.Literal(a))),
    selector: t.Optional(t.String({ minLength: 1 })),
    value: t.Optional(t.Unknown()),
    text: t.Optional(t.String()),
    duration: t.Optional(t.Number({ minimum: 0 })),
  },
  { additionalProperties: false },
)

export const AssertStep = t.Object(
  {
    assert: t.Union(ASSERTIONS.map((a) => t.Literal(a))),
    selector: t.String({ minLength: 1 }),
    expected: t.Unknown(),
    attribute: t.Optional(t.String({ minLength: 1 })),
    property: t.Optional(t.String({ minLength: 1 })),
  },
  { additionalProperties: false },
)

const MockResponse = t.Object(
  {
    status: t.Optional(t.Integer({ minimum: 100, maximum: 599, description: 'HTTP status; default 200.' })),
    body: t.Optional(t.Unknown({ description: 'Sent as JSON, or as it is when a string.' })),
  },
  { additionalProperties: false },
)

/** A canned answer to the page's request to one of the learner's endpoints, instead of the learner's backend. */
export const EndpointMock = t.Object(
  {
    endpoint: t.String({
      pattern: '^/',
      maxLength: 200,
      description: 'The path the page requests, e.g. /check_winner.',
    }),
    method: t.Optional(t.String({ pattern: '^[A-Za-z]+$', maxLength: 10, description: 'Default: any method.' })),
    response: t.Optional(t.Unknown({ description: 'The JSON body of every answer (status 200).' })),
    sequence: t.Optional(
      t.Array(MockResponse, {
        minItems: 1,
        maxItems: 50,
        description: 'Answers in order, one per request; the last repeats. Wins over `response`.',
      }),
    ),
    delay: t.Optional(t.Integer({ minimum: 0, maximum: 5000, description: 'Milliseconds before answering.' })),
  },
  { additionalProperties: false },
)
export type EndpointMock = typeof EndpointMock.static

export const BrowserCookie = t.Object(
  { name: t.String({ minLength: 1, maxLength: 200 }), value: t.String({ maxLength: 4096 }) },
  { additionalProperties: false },
)

/** What the page finds before it loads: canned endpoint answers, localStorage entries, cookies. */
export const InteractiveSetup = t.Object(
  {
    mocks: t.Optional(t.Array(EndpointMock, { maxItems: 50 })),
    localStorage: t.Optional(
      t.Record(t.String({ maxLength: 200 }), t.String({ maxLength: 65536 }), { maxProperties: 100 }),
    ),
    cookies: t.Optional(t.Array(BrowserCookie, { maxItems: 50 })),
  },
  { additionalProperties: false },
)
export type InteractiveSetup = typeof InteractiveSetup.static

export const InteractiveTestCase = t.Object(
  {
    name: TestName,
    type: t.Literal('frontend_interactive'),
    description: t.Optional(t.String()),
    setup: t.Optional(InteractiveSetup),
    steps: t.Array(t.Union([ActionStep, AssertStep]), { minItems: 1, maxItems: 500 }),
    public: Public,
  },
  { additionalProperties: false },
)
export type InteractiveTestCase = typeof InteractiveTestCase.static
export type ActionStep = typeof ActionStep.static
export type AssertStep = typeof AssertStep.static

export const JudgeTestCase = t.Object(
  {
    name: TestName,
    description: t.String({ minLength: 1, description: 'What the judge looks for in the screenshot.' }),
    steps: t.Optional(
      t.Array(t.Union([ActionStep, AssertStep]), {
        maxItems: 500,
        description: 'Steps run on the page before its screenshot (as in browser tests); none: the page as loaded.',
      }),
    ),
    public: Public,
  },
  { additionalProperties: false },
)

/** One `tests/<kind>/*.json` file: a titled group of tests. */
export const BackendTestFile = t.Object(
  { title: t.String({ minLength: 1 }), tests: t.Array(EndpointTestCase, { minItems: 1 }) },
  { additionalProperties: false },
)
export const BrowserTestFile = t.Object(
  { title: t.String({ minLength: 1 }), tests: t.Array(t.Union([InteractiveTestCase, JudgeTestCase]), { minItems: 1 }) },
  { additionalProperties: false },
)

export type TestKind = 'backend' | 'frontend' | 'html'
export const TITLE_PREFIX: Record<TestKind, string> = {
  backend: 'Backend: ',
  frontend: 'End-to-End: ',
  html: 'HTML: ',
}

// ---------------------------------------------------------------- wire shapes

/** What grades a test: the Python runner (endpoint), a browser (frontend_interactive) or the vision judge. */
export type TestCaseKind = 'endpoint' | 'frontend_interactive' | 'judge'

/** The kind of a stored or client-sent test, flat or wrapped in `metadata`, from the fields it has. */
export function testCaseKind(test: object): TestCaseKind {
  const flat = test as { type?: unknown; endpoint?: unknown; metadata?: unknown }
  const meta = (typeof flat.metadata === 'object' && flat.metadata !== null ? flat.metadata : {}) as typeof flat
  const type = meta.type ?? flat.type
  if (type === 'frontend_interactive') return 'frontend_interactive'
  if (type === 'endpoint' || typeof (meta.endpoint ?? flat.endpoint) === 'string') return 'endpoint'
  return 'judge'
}

/** A test as clients receive it: the stored test plus its group `title`; `kind` and `public` always present. */
export const Test = t.Object(
  {
    title: t.String(),
    name: t.String(),
    kind: t.Union([t.Literal('endpoint'), t.Literal('frontend_interactive'), t.Literal('judge')], {
      description: 'What grades the test: the Python runner, a browser, or the vision judge.',
    }),
    public: t.Boolean(),
  },
  {
    title: 'Test',
    additionalProperties: true,
    description:
      'An endpoint test `{ title, name, kind, endpoint, input, expected, public }`, an interactive browser test ' +
      '`{ title, name, kind, type: "frontend_interactive", steps, public }` or a judge (design) test `{ title, name, kind, ' +
      'description, steps?, public }` (its steps, if any, run before its screenshot). A private test (`public: false`) carries only `title`, `name`, `kind`, `public` ' +
      'and `endpoint` or `type`: it is graded on the server (POST /api/execute-test-cases with `task`).',
  },
)
export type Test = { title: string; name: string; kind: TestCaseKind; public: boolean; [field: string]: unknown }

export const TaskSummary = t.Object(
  { name: t.String(), slug: t.String(), summary: t.String() },
  { title: 'TaskSummary' },
)
export type TaskSummary = typeof TaskSummary.static

export const TaskList = t.Object({ tasks: t.Array(TaskSummary) }, { title: 'TaskList' })

export const TaskFile = t.Object(
  {
    id: t.String(),
    name: t.String(),
    type: t.Literal('file'),
    content: t.String(),
    language: t.String(),
  },
  { title: 'TaskFile' },
)
export type TaskFile = typeof TaskFile.static

export const TaskDetail = t.Object(
  {
    task: t.Object(
      {
        name: t.String(),
        slug: t.String(),
        summary: t.String(),
        description: t.String({ description: 'Instructions HTML; relative image sources are inlined as data: URLs.' }),
        tests: t.Array(Test, { description: 'Every test of the task; titles prefixed Backend:, End-to-End:, HTML:.' }),
      },
      { additionalProperties: true },
    ),
    files: t.Array(TaskFile),
  },
  { title: 'TaskDetail' },
)
export type TaskDetail = typeof TaskDetail.static

export const LoadTestCasesRequest = t.Object(
  {
    task: t.Object(
      {
        tests: t.Array(
          t.Union([
            t.String({ minLength: 1, description: 'A test folder, relative to the tasks folder.' }),
            t.Object({ name: t.String(), title: t.Optional(t.String()) }, { additionalProperties: true }),
          ]),
          { examples: [['tic-tac-toe/tests/backend']] },
        ),
      },
      { additionalProperties: true },
    ),
    public_only: t.Optional(t.Boolean({ default: true, description: 'Leave out tests marked public: false.' })),
  },
  { title: 'LoadTestCasesRequest' },
)
export type LoadTestCasesRequest = typeof LoadTestCasesRequest.static

export const TestGroup = t.Object({ title: t.String(), tests: t.Array(Test) }, { title: 'TestGroup' })
export type TestGroup = typeof TestGroup.static

export const LoadTestCasesResponse = t.Object({ testCases: t.Array(TestGroup) }, { title: 'LoadTestCasesResponse' })
