/**
 * A tiny assembler for classic BPF, the language of seccomp filters (see seccomp.ts for the policy). Only what a
 * syscall filter needs: load a 32-bit word of `struct seccomp_data`, compare it, jump forward, return a verdict.
 * Jump targets are labels, resolved here, so the policy reads as a list rather than as counted offsets.
 *
 * @example
 * assemble([load(0), jumpIf('eq', 39, 'deny'), ret(ALLOW), label('deny'), ret(errno(1))])
 */

/** Where the kernel puts each field of `struct seccomp_data` (little-endian on every architecture we build for). */
export const DATA = { nr: 0, arch: 4, argLow: (index: number) => 16 + 8 * index } as const

export const ALLOW = 0x7fff_0000
export const KILL_PROCESS = 0x8000_0000
export const errno = (code: number) => 0x0005_0000 | (code & 0xffff)

type Target = string | 0 // a label, or 0 for "the next instruction"

export type Item =
  | { op: 'label'; name: string }
  | { op: 'load'; offset: number }
  | { op: 'jump'; test: 'eq' | 'ge' | 'set'; k: number; then: Target; otherwise: Target }
  | { op: 'ret'; k: number }

export const label = (name: string): Item => ({ op: 'label', name })
/** A <- the 32-bit word at `offset` of seccomp_data. */
export const load = (offset: number): Item => ({ op: 'load', offset })
/** if (A == k) / (A >= k) / (A & k) goto `then` else goto `otherwise`. */
export const jumpIf = (test: 'eq' | 'ge' | 'set', k: number, then: Target, otherwise: Target = 0): Item => ({
  op: 'jump',
  test,
  k,
  then,
  otherwise,
})
export const ret = (k: number): Item => ({ op: 'ret', k })

// Opcodes (linux/bpf_common.h): class | size | mode, class | op | source.
const LD_W_ABS = 0x00 | 0x00 | 0x20
const JMP = { eq: 0x05 | 0x10, ge: 0x05 | 0x30, set: 0x05 | 0x40 } as const // BPF_JMP | op | BPF_K
const RET_K = 0x06

/** The program as the bytes of `struct sock_filter[]` (u16 code, u8 jt, u8 jf, u32 k), ready for the kernel. */
export function assemble(items: Item[]): Uint8Array {
  const code = items.filter((item) => item.op !== 'label')
  const at = new Map<string, number>()
  let index = 0
  for (const item of items) {
    if (item.op === 'label') {
      if (at.has(item.name)) throw new Error(`BPF label ${item.name} defined twice`)
      at.set(item.name, index)
    } else index++
  }
  if (code.length > 4096) throw new Error('a seccomp program has at most 4096 instructions')
  const bytes = new Uint8Array(code.length * 8)
  const view = new DataView(bytes.buffer)
  code.forEach((item, i) => {
    // Jumps are relative to the next instruction, forward only, at most 255 far: the kernel cannot loop.
    const offset = (target: Target) => {
      if (target === 0) return 0
      const to = at.get(target)
      if (to === undefined) throw new Error(`BPF label ${target} is not defined`)
      const distance = to - i - 1
      if (distance < 0 || distance > 255) throw new Error(`BPF jump to ${target} out of range (${distance})`)
      return distance
    }
    let op: number
    let jt = 0
    let jf = 0
    let k: number
    if (item.op === 'load') [op, k] = [LD_W_ABS, item.offset]
    else if (item.op === 'ret') [op, k] = [RET_K, item.k]
    else if (item.op === 'jump') [op, jt, jf, k] = [JMP[item.test], offset(item.then), offset(item.otherwise), item.k]
    else throw new Error('unreachable')
    view.setUint16(i * 8, op, true)
    view.setUint8(i * 8 + 2, jt)
    view.setUint8(i * 8 + 3, jf)
    view.setUint32(i * 8 + 4, k >>> 0, true)
  })
  return bytes
}
