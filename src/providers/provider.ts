/**
 * The ChatProvider port and the registry choosing one per model name. (Chat feature: issue 4.)
 */
import type { Service } from '../services'

export interface ProviderRegistry extends Service {}
