// Every provided builtin, by name: the families put together.
import type { BuiltinTable } from './builtin.js';
import { cryptoBuiltins } from './crypto.js';
import { encodingBuiltins } from './encoding.js';
import { globBuiltins } from './glob.js';
import { graphBuiltins } from './graph.js';
import { jwtBuiltins } from './jwt.js';
import { netBuiltins } from './net.js';
import { numbersBuiltins } from './numbers.js';
import { objectBuiltins } from './object.js';
import { semverBuiltins } from './semver.js';
import { stringsBuiltins } from './strings.js';
import { timeBuiltins } from './time.js';
import { traceBuiltins } from './trace.js';
import { unitsBuiltins } from './units.js';
import { uuidBuiltins } from './uuid.js';

const FAMILIES: readonly BuiltinTable[] = [
  cryptoBuiltins,
  encodingBuiltins,
  globBuiltins,
  graphBuiltins,
  jwtBuiltins,
  netBuiltins,
  numbersBuiltins,
  objectBuiltins,
  semverBuiltins,
  stringsBuiltins,
  timeBuiltins,
  traceBuiltins,
  unitsBuiltins,
  uuidBuiltins,
];

export const PROVIDED_BUILTINS: BuiltinTable = Object.freeze(Object.assign({}, ...FAMILIES) as BuiltinTable);
