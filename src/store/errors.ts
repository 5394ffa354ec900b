/** The database did not answer (down, unreachable, too slow) or refused: what the Store's callers catch. */
export class StoreUnavailable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'StoreUnavailable'
  }
}

/** A short reason for logs and answers: never a connection string or a path. */
export function reasonOf(error: unknown): string {
  if (error instanceof StoreUnavailable) return error.message
  const code = (error as { code?: unknown })?.code
  return typeof code === 'string' ? `The database refused or failed (${code})` : 'The database failed'
}

/** A row a call needs is not there (a conversation deleted meanwhile): not a failure of the database. */
export class StoreNotFound extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'StoreNotFound'
  }
}
