/**
 * What a learner's server can see and reach from inside its sandbox: no network (not even the backend on the
 * host's loopback), no environment of the backend, no project folder, an unprivileged uid, hard limits.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { post } from '../support/http'
import { appFactory, freePortBlock } from './helpers'

// Starting sandboxes on a busy machine can take seconds: a guard against hangs, not a timing assertion.
setDefaultTimeout(30_000)

const first = await freePortBlock(2)
const makeApp = appFactory(first, 2)

// A secret in the backend's own environment: the learner's server must not be able to read it anywhere.
process.env.SERVERS_TEST_SECRET = 'do-not-leak-me'
afterAll(() => void delete process.env.SERVERS_TEST_SECRET)

describe('deprecated Python servers: isolation', () => {
  test('the program has no network, no secrets, no project folder and hard limits', async () => {
    const app = makeApp().listen({ hostname: '127.0.0.1', port: 0 })
    const port = first
    const code = `
import os, resource, socket

def reach(host, port):
    try:
        socket.create_connection((host, port), timeout=2).close()
        return "reached"
    except OSError:
        return "blocked"

def environ_of(pid):
    try:
        with open("/proc/%d/environ" % pid, "rb") as f:
            return sorted(item.split(b"=")[0].decode() for item in f.read().split(b"\\0") if item)
    except OSError as error:
        return type(error).__name__

@endpoint
def probe():
    return {
        "backend": reach("127.0.0.1", ${app.server!.port}),
        "outside": reach("1.1.1.1", 53),
        "env": sorted(os.environ),
        "pid1_env": environ_of(1),
        "secret": any(b"do-not-leak-me" in open("/proc/%s/environ" % p, "rb").read()
                      for p in os.listdir("/proc") if p.isdigit()),
        "project": os.path.exists(${JSON.stringify(process.cwd())}),
        "writable": [d for d in ("/", "/usr", "/run", "/var", "/tmp", "/home", "/dev/shm") if os.access(d, os.W_OK)],
        "devnull": open("/dev/null", "w").write("still usable"),
        "mounts": sorted(set(line.split()[4] for line in open("/proc/self/mountinfo"))),
        "uid": os.getuid(),
        "nproc_hard": resource.getrlimit(resource.RLIMIT_NPROC)[1],
        "cpu_hard": resource.getrlimit(resource.RLIMIT_CPU)[1],
    }
`
    expect((await post(app, '/api/start-python-server', { pythonCode: code, port })).body.listening).toBe(true)
    const seen = await (await fetch(`http://127.0.0.1:${port}/probe`)).json()
    expect(seen).toEqual({
      result: {
        backend: 'blocked',
        outside: 'blocked',
        env: ['HOME', 'LANG', 'PATH', 'PORT'],
        pid1_env: [], // bwrap was spawned with an empty environment
        secret: false,
        project: false,
        writable: ['/tmp'],
        devnull: 12,
        mounts: [
          '/',
          '/dev',
          '/dev/full',
          '/dev/null',
          '/dev/pts',
          '/dev/random',
          '/dev/tty',
          '/dev/urandom',
          '/dev/zero',
          '/proc',
          '/tmp',
          '/usr',
        ], // nothing of the host but /usr
        uid: 65534,
        nproc_hard: 64,
        cpu_hard: 605,
      },
    })
    // ...while the backend itself answers on that port, so "blocked" is the sandbox, not a dead port.
    expect((await fetch(`http://127.0.0.1:${app.server!.port}/health`)).status).toBe(200)
    await post(app, '/api/stop-python-server', { port })
    app.stop()
  })
})
