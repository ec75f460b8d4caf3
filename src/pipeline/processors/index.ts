import type { ProcessorPlugin } from '../processor';
import { errorProcessor } from './error';
import { httpProcessor } from './http';
import { networkProcessor } from './network';
import { performanceProcessor } from './performance';

/** The built-in processors, in the order they run. */
export const BUILTIN_PROCESSORS: readonly ProcessorPlugin[] = [httpProcessor, networkProcessor, performanceProcessor, errorProcessor];
