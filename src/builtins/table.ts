// Every provided builtin, by name: the families put together.
import type { BuiltinTable } from './builtin.js';
import { cryptoBuiltins } from './crypto.js';
import { encodingBuiltins } from './encoding.js';
import { netBuiltins } from './net.js';
import { numbersBuiltins } from './numbers.js';
import { semverBuiltins } from './semver.js';
import { timeBuiltins } from './time.js';
import { unitsBuiltins } from './units.js';
import { uuidBuiltins } from './uuid.js';

const FAMILIES: readonly BuiltinTable[] = [
  cryptoBuiltins,
  encodingBuiltins,
  netBuiltins,
  numbersBuiltins,
  semverBuiltins,
  timeBuiltins,
  unitsBuiltins,
  uuidBuiltins,
];

export const PROVIDED_BUILTINS: BuiltinTable = Object.freeze(Object.assign({}, ...FAMILIES) as BuiltinTable);
