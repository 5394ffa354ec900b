/** Request and response schemas of the execution routes (README, "Python execution"). */
import { t } from 'elysia'

const Json = t.Unknown({ description: 'Any JSON value' })

export const ExecuteEndpointRequest = t.Object(
  {
    pythonCode: t.Optional(t.String({ description: 'Learner code with @endpoint functions (required, non-empty)' })),
    endpoint: t.Optional(t.String({ description: 'Path (e.g. /add) or function name; omit to list the endpoints' })),
    args: t.Optional(t.Record(t.String(), Json, { description: 'Keyword arguments of the call' })),
  },
  {
    title: 'ExecuteEndpointRequest',
    examples: [
      { pythonCode: '@endpoint\ndef add(a: int, b: int):\n    return a + b', endpoint: '/add', args: { a: 1, b: '2' } },
    ],
  },
)
export type ExecuteEndpointRequest = typeof ExecuteEndpointRequest.static

export const EndpointParameter = t.Object(
  {
    name: t.String(),
    type: t.Union([t.Literal('regular'), t.Literal('default'), t.Literal('args'), t.Literal('kwargs')]),
    required: t.Boolean(),
    defaultValue: t.Union([t.String(), t.Null()], { description: 'Source text of the default' }),
    annotation: t.Union([t.String(), t.Null()], { description: 'Source text of the annotation' }),
  },
  { title: 'EndpointParameter' },
)

export const Endpoint = t.Object(
  {
    name: t.String(),
    endpoint: t.String({ description: 'Path, e.g. /add' }),
    methods: t.Array(t.String()),
    parameters: t.Array(EndpointParameter),
    body: t.String({ description: 'Source of the function' }),
  },
  { title: 'Endpoint' },
)

const ErrorType = t.String({
  description: 'runtime_error | timeout | memory_limit | output_limit | syntax_error | endpoint_not_found',
})

export const LearnerCodeFailure = t.Object(
  {
    success: t.Literal(false),
    error: t.String(),
    error_type: ErrorType,
    stdout: t.Optional(t.String()),
    stderr: t.Optional(t.String()),
    line: t.Optional(t.Union([t.Integer(), t.Null()])),
    offset: t.Optional(t.Union([t.Integer(), t.Null()])),
    traceback: t.Optional(t.String()),
    available_endpoints: t.Optional(t.Array(t.String())),
    duration_ms: t.Optional(t.Number()),
  },
  { title: 'LearnerCodeFailure', description: 'The request was served; the learner code failed.' },
)
export type LearnerCodeFailure = typeof LearnerCodeFailure.static

export const EndpointList = t.Object(
  { success: t.Literal(true), endpoints: t.Array(Endpoint), count: t.Integer(), message: t.String() },
  { title: 'EndpointList' },
)
export type EndpointList = typeof EndpointList.static

export const EndpointResult = t.Object(
  {
    success: t.Literal(true),
    result: Json,
    endpoint: t.String(),
    args_used: Json,
    execution_method: t.Union([t.Literal('local_sandbox'), t.Literal('onecompiler')]),
    stdout: t.String(),
    stderr: t.String(),
    duration_ms: t.Number(),
  },
  { title: 'EndpointResult' },
)

export const ExecuteEndpointResponse = t.Union([EndpointList, EndpointResult, LearnerCodeFailure], {
  title: 'ExecuteEndpointResponse',
})

const CaseFields = {
  type: t.Optional(
    t.String({
      description:
        "'endpoint' (run in the sandbox), 'frontend_interactive' (run in a browser with frontendCode); anything else is skipped",
    }),
  ),
  endpoint: t.Optional(t.String()),
  input: t.Optional(t.Record(t.String(), Json)),
  expected: t.Optional(Json),
  steps: t.Optional(t.Array(Json, { description: 'A browser test: its actions and assertions (README, "Grading")' })),
  setup: t.Optional(Json),
}

/** Wrapped `{ name, metadata: { type, endpoint, input, expected } }` or flat as stored in task files. */
export const TestCase = t.Object(
  { name: t.Optional(t.String()), ...CaseFields, metadata: t.Optional(t.Object(CaseFields)) },
  { title: 'TestCase', additionalProperties: true },
)
export type TestCase = typeof TestCase.static

/** The learner's page, as `POST /api/execute-test-cases` and `POST /api/grade` take it. */
export const FrontendCode = t.Unknown({
  description:
    'The learner\'s page: `{ "<path>": content }` (e.g. index.html, style.css, script.js) or `{ html, css, js }`. ' +
    'With it, browser tests (frontend_interactive) run in a headless browser on the server instead of being skipped.',
  examples: [
    { 'index.html': '<button id="go">Go</button>', 'script.js': "document.getElementById('go').onclick = () => {}" },
  ],
})

export const ExecuteTestsRequest = t.Object(
  {
    testCases: t.Optional(t.Array(TestCase, { description: 'Your own cases; or give `task` instead' })),
    task: t.Optional(
      t.String({
        minLength: 1,
        description: "A task's name or slug: its endpoint tests are run, graded on the server",
      }),
    ),
    tests: t.Optional(t.Array(t.String(), { description: 'With `task`: only these tests, by name (default: all)' })),
    include_private: t.Optional(
      t.Boolean({
        default: false,
        description: 'With `task`: run private tests too; their results say only pass/fail',
      }),
    ),
    backendCode: t.Optional(t.String({ description: 'Learner code (required, non-empty)' })),
    frontendCode: t.Optional(FrontendCode),
    port: t.Optional(t.Number({ description: 'Accepted for old clients; unused' })),
    save: t.Optional(
      t.Boolean({ default: false, description: "With `task`: save the run as one of the learner's attempts" }),
    ),
  },
  {
    title: 'ExecuteTestCasesRequest',
    description: 'Exactly one of `testCases` or `task`.',
    examples: [
      { task: 'tic-tac-toe', include_private: true, backendCode: "@endpoint('/reset')\ndef reset():\n    ..." },
    ],
  },
)
export type ExecuteTestsRequest = typeof ExecuteTestsRequest.static

/** One step of a browser test: what it did or checked, and what it found. */
export const BrowserStep = t.Object(
  {
    index: t.Integer(),
    kind: t.String({ description: 'The action or assertion, e.g. click, elementText' }),
    status: t.Union([t.Literal('pass'), t.Literal('fail'), t.Literal('skip')]),
    message: t.String(),
    selector: t.Optional(t.String()),
    expected: t.Optional(Json),
    actual: t.Optional(Json),
  },
  { title: 'BrowserStep' },
)

export const TestResult = t.Object(
  {
    testName: t.String(),
    status: t.Union([t.Literal('pass'), t.Literal('fail'), t.Literal('error'), t.Literal('skip')]),
    message: t.String(),
    expected: Json,
    actual: Json,
    duration_ms: t.Number(),
    error_type: t.Optional(t.String()),
    stdout: t.Optional(t.String()),
    stderr: t.Optional(t.String()),
    private: t.Optional(
      t.Literal(true, { description: 'A private test: a generic message, never expected, actual or output' }),
    ),
    reason: t.Optional(
      t.String({ description: 'Why a browser test was skipped or erred, e.g. browser_unavailable, timeout' }),
    ),
    steps: t.Optional(t.Array(BrowserStep, { description: 'A browser test: the result of each step' })),
    screenshot: t.Optional(t.String({ description: 'A failed browser test: a PNG data URL of the page' })),
  },
  { title: 'TestResult' },
)
export type TestResult = typeof TestResult.static

export const TestSummary = t.Object(
  { total: t.Integer(), passed: t.Integer(), failed: t.Integer(), errors: t.Integer(), skipped: t.Integer() },
  { title: 'TestSummary' },
)
export type TestSummary = typeof TestSummary.static

/** Whether a graded run was kept as an attempt (src/learners): sent only once it is committed. */
export const SaveFields = {
  attempt_id: t.Optional(
    t.Union([t.String(), t.Null()], { description: 'The saved attempt; null when it was not saved' }),
  ),
  saved: t.Optional(t.Boolean({ description: 'The attempt is saved (committed) in the database' })),
  save_error: t.Optional(t.String({ description: 'Why it was not saved (database unreachable)' })),
}
export type SaveOutcome = { attempt_id: string | null; saved: boolean; save_error?: string }

export const ExecuteTestsResponse = t.Object(
  {
    success: t.Boolean(),
    results: t.Array(TestResult),
    summary: TestSummary,
    duration_ms: t.Number(),
    ...SaveFields,
  },
  { title: 'ExecuteTestCasesResponse' },
)
export type ExecuteTestsResponse = typeof ExecuteTestsResponse.static

export const ValidateRequest = t.Object(
  { pythonCode: t.Optional(t.String({ description: 'Code to check (required, non-empty)' })) },
  { title: 'ValidatePythonRequest' },
)

export const ValidateResponse = t.Object(
  {
    success: t.Boolean(),
    message: t.Optional(t.String()),
    error: t.Optional(t.String()),
    error_type: t.Optional(t.String()),
    line: t.Optional(t.Union([t.Integer(), t.Null()])),
    offset: t.Optional(t.Union([t.Integer(), t.Null()])),
  },
  { title: 'ValidatePythonResponse' },
)
