/**
 * The CodeRunner port: one job = learner code + an operation. Adapters: local sandbox, OneCompiler.
 * (Execution feature: extended by issue 3.)
 */
import type { Service } from '../services'

export interface CodeRunner extends Service {}
