/** The bubblewrap command (src/sandbox/argv.ts): the kernel-surface flags are always there, in the right place. */
import { expect, test } from 'bun:test'
import { dropRootPrefix, sandboxArgv } from '../../src/sandbox/argv'
import { hasDisableUserns } from '../../src/sandbox/probe'

test('every sandbox: own user namespace with nested ones disabled, fixed host name, the filter fd last before the program', () => {
  const argv = sandboxArgv(['python3'], { tmpfsBytes: 1 << 20, seccompFd: 5 })
  const flag = (name: string) => argv.slice(argv.indexOf(name), argv.indexOf(name) + 2)
  expect([argv.includes('--unshare-user'), argv.includes('--disable-userns'), flag('--hostname')]).toEqual([
    true,
    true,
    ['--hostname', 'sandbox'],
  ])
  expect(argv.slice(-4)).toEqual(['--seccomp', '5', '--', 'python3'])
})

test('bubblewrap before 0.8.0 has no --disable-userns: the filter alone forbids nested namespaces there', () => {
  expect(['0.6.1', '0.7.0', '0.8.0', '0.11.0', '1.0.0', null].map(hasDisableUserns)).toEqual([
    false,
    false,
    true,
    true,
    true,
    false,
  ])
  expect(sandboxArgv(['python3'], { tmpfsBytes: 1 << 20, disableUserns: false })).not.toContain('--disable-userns')
})

test.if(process.getuid?.() === 0)(
  'as root: the sandbox uid and a process limit on it, set before the uid changes',
  () => {
    const prefix = dropRootPrefix(100_007, 66)
    expect(prefix.map((arg) => arg.replace(/^\/.*\//, ''))).toEqual([
      'prlimit',
      '--nproc=66:66',
      '--',
      'setpriv',
      '--reuid',
      '100007',
      '--regid',
      '100007',
      '--clear-groups',
    ])
    expect(dropRootPrefix(65534, null)[0]).toEndWith('setpriv')
  },
)
