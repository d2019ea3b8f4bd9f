// Differences from Go OPA that cannot be fixed here, each with its reason; the differential test asserts them exactly.
import type { Difference } from './differential.js';

export interface KnownDifference extends Difference {
  readonly reason: string;
}

const ARGUMENT_PRECISION =
  'opa-wasm hands builtins their arguments through JSON.parse, so an integer beyond 2^53 (nanoseconds with sub-microsecond digits) arrives rounded; results are written exactly';

export const KNOWN_BUILTIN_DIFFERENCES: readonly KnownDifference[] = [];
void ARGUMENT_PRECISION;
