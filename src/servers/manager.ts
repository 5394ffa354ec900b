/**
 * Deprecated Python servers. (Issue 5.)
 */
import type { Service } from '../services'

export interface ServerManager extends Service {}
