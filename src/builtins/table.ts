// Every provided builtin, by name: the families put together.
import type { BuiltinTable } from './builtin.js';
import { timeBuiltins } from './time.js';

const FAMILIES: readonly BuiltinTable[] = [timeBuiltins];

export const PROVIDED_BUILTINS: BuiltinTable = Object.freeze(Object.assign({}, ...FAMILIES) as BuiltinTable);
