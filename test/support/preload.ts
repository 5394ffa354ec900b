/**
 * Loaded before every test file (bunfig.toml). bun test emits no process exit event, so the cgroups and the
 * precompiled harness folders and zygote stage folders of runners a test never closed are removed here, after the last test: a test run
 * leaves nothing on the host.
 */
import { afterAll } from 'bun:test'
import { removeOwnedHarnesses } from '../../src/python/compiled'
import { removeOwnedGroups } from '../../src/sandbox/cgroup'
import { removeOwnedStages } from '../../src/sandbox/zygote'

afterAll(() => {
  removeOwnedGroups()
  removeOwnedHarnesses()
  removeOwnedStages()
})
