/**
 * Loaded before every test file (bunfig.toml). bun test emits no process exit event, so the cgroups of runners a
 * test never closed are removed here, after the last test: a test run leaves nothing on the host.
 */
import { afterAll, setDefaultTimeout } from 'bun:test'
import { removeOwnedGroups } from '../../src/sandbox/cgroup'

afterAll(removeOwnedGroups)

// bun 1.4.5 does not apply `timeout` from bunfig.toml (a test still ends at 5 s): set it here, where it holds.
// Subprocess and sandbox tests take seconds on a loaded machine; no test relies on timing to pass.
setDefaultTimeout(30_000)
