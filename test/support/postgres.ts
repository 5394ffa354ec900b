/**
 * A real PostgreSQL for tests: initdb in a temp folder, the server on a free loopback port (no unix socket), no
 * fsync (the tests never lose power; a killed server keeps every commit, which sits in the OS cache), trust authentication for the user `postgres`. As root, both run as an
 * unprivileged user (`postgres` when the package created it, else `nobody`): PostgreSQL refuses to run as root.
 * The server dies with the test process (setpriv --pdeathsig). `kill()` and `restart()` stage the database going
 * away and coming back on the same port with its data.
 *
 * @example
 * const pg = await startPostgres() // undefined when PostgreSQL is not installed: skip with NO_POSTGRES
 * const url = await pg.database('one_test') // a fresh, empty database
 */
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { userInfo } from 'node:os'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SQL } from 'bun'

/** The newest installed server's bin folder (Debian: /usr/lib/postgresql/<major>/bin). */
function findBin(): string | undefined {
  const root = '/usr/lib/postgresql'
  if (!existsSync(root)) return undefined
  const majors = readdirSync(root)
    .filter((name) => /^\d+$/.test(name) && existsSync(join(root, name, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a))
  return majors[0] ? join(root, majors[0], 'bin') : undefined
}

export const POSTGRES_BIN = findBin()
export const NO_POSTGRES = 'PostgreSQL is not installed (.ci/run installs it with apt-get install postgresql)'

export interface TestPostgres {
  url: string
  port: number
  /** A new empty database on this server; answers its URL. */
  database(name: string): Promise<string>
  /** SIGKILL the server; resolves once it is gone. */
  kill(): Promise<void>
  /** The server again, on the same port, with the same data. */
  restart(): Promise<void>
  stop(): Promise<void>
}

const SETPRIV = Bun.which('setpriv')

/** As root: the user the server runs as, and the setpriv prefix that becomes it. */
function runAs(): { uid: number; gid: number; prefix: string[] } | undefined {
  if (userInfo().uid !== 0) return undefined
  for (const name of ['postgres', 'nobody']) {
    const entry = Bun.spawnSync(['getent', 'passwd', name]).stdout.toString().trim()
    const [, , uid, gid] = entry.split(':')
    if (uid && gid) {
      return {
        uid: Number(uid),
        gid: Number(gid),
        prefix: [SETPRIV!, `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups'],
      }
    }
  }
  throw new Error('Running as root, but there is neither a postgres nor a nobody user to run PostgreSQL as')
}

async function freePort(): Promise<number> {
  const probe = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const port = probe.port
  probe.stop(true)
  return port
}

async function launch(bin: string, dataDir: string, port: number, prefix: string[]) {
  const args = [
    join(bin, 'postgres'),
    '-D',
    dataDir,
    '-p',
    String(port),
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'unix_socket_directories=',
    '-c',
    'fsync=off',
    '-c',
    'max_connections=60',
  ]
  const cmd = [...(SETPRIV ? [SETPRIV, '--pdeathsig', 'KILL'] : []), ...prefix, ...args]
  // Its own process group: a kill takes the server's backends too, which would otherwise serve the connections
  // they hold for a moment after the postmaster died.
  const proc = Bun.spawn(cmd, { stdout: 'ignore', stderr: 'pipe', stdin: 'ignore', env: { LANG: 'C' }, detached: true })
  let output = ''
  const decoder = new TextDecoder()
  const reader = proc.stderr.getReader()
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    output += decoder.decode(read.value)
    if (output.includes('ready to accept connections')) {
      void (async () => {
        while (!(await reader.read()).done); // keep draining so the pipe never fills
      })()
      return proc
    }
  }
  await proc.exited
  throw new Error(`postgres did not start on port ${port}:\n${output.slice(-2000)}`)
}

export async function startPostgres(): Promise<TestPostgres | undefined> {
  const bin = POSTGRES_BIN
  if (!bin) return undefined
  const user = runAs()
  const root = mkdtempSync(join(tmpdir(), 'tutor-pg-'))
  const dataDir = join(root, 'data')
  if (user) chownSync(root, user.uid, user.gid)
  const init = Bun.spawnSync(
    [
      ...(user?.prefix ?? []),
      join(bin, 'initdb'),
      '-D',
      dataDir,
      '-U',
      'postgres',
      '--auth=trust',
      '--encoding=UTF8',
      '--locale=C',
      '--no-sync',
    ],
    { env: { LANG: 'C', PATH: '/usr/bin:/bin' }, stdout: 'pipe', stderr: 'pipe' },
  )
  if (init.exitCode !== 0) {
    rmSync(root, { recursive: true, force: true })
    throw new Error(`initdb failed: ${init.stderr.toString().slice(-2000)}`)
  }
  let port = 0
  let proc: Bun.Subprocess | undefined
  for (let attempt = 0; !proc; attempt++) {
    port = await freePort()
    try {
      proc = await launch(bin, dataDir, port, user?.prefix ?? [])
    } catch (error) {
      if (attempt >= 4) throw error
    }
  }
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`
  const stopNow = async () => {
    try {
      process.kill(-proc!.pid, 'SIGKILL')
    } catch {
      proc!.kill('SIGKILL') // the group is gone already
    }
    await proc!.exited
  }
  return {
    url,
    port,
    async database(name) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`)
      const admin = new SQL(url, { max: 1 })
      try {
        // A database name is an identifier: the client's identifier helper quotes it.
        await admin`CREATE DATABASE ${admin(name)}`
      } finally {
        await admin.close()
      }
      return `postgres://postgres@127.0.0.1:${port}/${name}`
    },
    kill: stopNow,
    async restart() {
      // Backends of a killed server die a moment after the postmaster, holding its shared memory until then: a
      // launch in that moment fails at once ("pre-existing shared memory block is still in use"), so try again.
      for (let attempt = 0; ; attempt++) {
        try {
          proc = await launch(bin, dataDir, port, user?.prefix ?? [])
          return
        } catch (error) {
          if (attempt >= 20 || !String(error).includes('still in use')) throw error
        }
      }
    },
    async stop() {
      await stopNow()
      rmSync(root, { recursive: true, force: true })
    },
  }
}
