/**
 * The TaskStore port over the tasks folder. (Tasks feature: issue 5.)
 */
import type { Service } from '../services'

export interface TaskStore extends Service {}
