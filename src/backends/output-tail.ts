/**
 * The last `limit` characters of a process's output. A learner's server can print without end for its whole
 * lifetime, so only a bounded tail is kept; trimming happens once the text is twice the limit, so a flood of
 * small writes costs amortised O(1) per character instead of a 64 KB copy per write.
 *
 * @example
 * const tail = new OutputTail(64 * 1024)
 * tail.push('hello\n')
 * tail.toString() // 'hello\n'
 */
export class OutputTail {
  private text = ''

  constructor(private readonly limit: number) {}

  push(chunk: string): void {
    this.text += chunk
    if (this.text.length > 2 * this.limit) this.text = this.text.slice(-this.limit)
  }

  toString(): string {
    return this.text.length > this.limit ? this.text.slice(-this.limit) : this.text
  }
}
