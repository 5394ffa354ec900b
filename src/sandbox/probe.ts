/**
 * Start-up probes of what local execution needs: which Python answers, and whether bubblewrap can actually
 * build a sandbox here (installed is not enough: some containers forbid user namespaces).
 */
import { sandboxArgv } from './argv'
import { closeQuietly, type SeccompFilter } from './seccomp'

export interface PythonProbe {
  found: boolean
  version: string | null
  bin: string
}

export interface SandboxProbe {
  available: boolean
  version: string | null
  reason: string | null
  /** Whether this bubblewrap forbids nested user namespaces itself (0.8.0+); the seccomp filter does either way. */
  disables_userns?: boolean
  /** What PYTHON_BIN said inside the sandbox, so a working sandbox answers the Python probe too. */
  python?: PythonProbe
}

/** `--disable-userns` came with bubblewrap 0.8.0. */
export function hasDisableUserns(version: string | null): boolean {
  const [major = 0, minor = 0] = (version ?? '').split('.').map(Number)
  return major > 0 || minor >= 8
}

/** Runs `cmd`; `fd3` becomes the child's fd 3 (closed here once the child has its copy). */
async function run(
  cmd: string[],
  fd3: number | null = null,
  timeoutMs = 3000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const extra = fd3 === null ? [] : [fd3]
    const proc = Bun.spawn(cmd, { stdio: ['ignore', 'pipe', 'pipe', ...extra], env: {}, timeout: timeoutMs })
    if (fd3 !== null) closeQuietly(fd3)
    const [stdout, stderr, code] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ])
    return { code, stdout: stdout.trim(), stderr: stderr.trim() }
  } catch (error) {
    return { code: -1, stdout: '', stderr: (error as Error).message }
  }
}

const PRINT_VERSION = ['-I', '-S', '-c', 'import sys; print(sys.version.split()[0])']

export async function probePython(bin: string): Promise<PythonProbe> {
  const result = await run([bin, ...PRINT_VERSION])
  return { found: result.code === 0, version: result.code === 0 ? result.stdout : null, bin }
}

/**
 * Both probes with as few processes as possible (start-up runs them before the first /health answer): Python
 * is asked inside the sandbox trial, and on its own only when the sandbox is not available.
 */
export async function probeAll(
  bin: string,
  asUser: string[],
  seccomp: SeccompFilter | null = null,
): Promise<[PythonProbe, SandboxProbe]> {
  const { python, ...sandbox } = await probeSandbox(bin, asUser, seccomp)
  return [python ?? (await probePython(bin)), sandbox]
}

/**
 * `asUser` is the command prefix the runner starts bwrap with (setpriv to a sandbox uid when we are root): the
 * trial must run the way real jobs run, since an unprivileged bwrap needs user namespaces a root one does not,
 * and with the same seccomp filter and --disable-userns (a host that refuses them has no usable sandbox).
 */
export async function probeSandbox(
  pythonBin: string,
  asUser: string[] = [],
  seccomp: SeccompFilter | null = null,
): Promise<SandboxProbe> {
  const bwrap = Bun.which('bwrap')
  if (!bwrap) return { available: false, version: null, reason: 'bubblewrap (bwrap) is not installed' }
  const about = await run([bwrap, '--version'])
  const version = about.stdout.replace(/^bubblewrap\s*/, '') || null
  const disableUserns = hasDisableUserns(version)
  // The very command real jobs use, so "available" means what it says.
  const trial = await run(
    [
      ...asUser,
      ...sandboxArgv([pythonBin, ...PRINT_VERSION], {
        tmpfsBytes: 1 << 20,
        seccompFd: seccomp ? 3 : undefined,
        disableUserns,
      }),
    ],
    seccomp ? seccomp.open() : null,
  )
  if (trial.code !== 0) {
    return {
      available: false,
      version,
      reason: `bubblewrap cannot create a sandbox here: ${trial.stderr || trial.code}`,
    }
  }
  const python = { found: true, version: trial.stdout, bin: pythonBin }
  return { available: true, version, reason: null, disables_userns: disableUserns, python }
}
