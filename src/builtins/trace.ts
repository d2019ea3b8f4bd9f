// trace and print: OPA sends them to its tracer and print hook; the decision never depends on them.
import { type BuiltinTable } from './builtin.js';

export const traceBuiltins: BuiltinTable = {
  // The note goes to a tracer when one is attached; the expression is true either way.
  trace: () => true,
  // print's output goes to OPA's print hook (stderr for opa eval); meshwarden has none, and print never fails.
  'internal.print': () => true,
};
