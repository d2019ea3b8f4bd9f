// Every provided builtin, by name: the families put together.
import { awsBuiltins } from './aws.js';
import type { BuiltinTable } from './builtin.js';
import { cryptoBuiltins } from './crypto.js';
import { encodingBuiltins } from './encoding.js';
import { globBuiltins } from './glob.js';
import { globIntersectionBuiltins } from './glob-intersection.js';
import { graphBuiltins } from './graph.js';
import { graphqlBuiltins } from './graphql.js';
import { jsonBuiltins } from './json.js';
import { jsonSchemaBuiltins } from './json-schema.js';
import { jwtBuiltins } from './jwt.js';
import { netBuiltins } from './net.js';
import { numbersBuiltins } from './numbers.js';
import { objectBuiltins } from './object.js';
import { opaRuntimeBuiltins } from './opa-runtime.js';
import { regexBuiltins } from './regex.js';
import { semverBuiltins } from './semver.js';
import { sprintfBuiltins } from './sprintf.js';
import { stringsBuiltins } from './strings.js';
import { timeBuiltins } from './time.js';
import { traceBuiltins } from './trace.js';
import { unitsBuiltins } from './units.js';
import { urlqueryBuiltins } from './urlquery.js';
import { uuidBuiltins } from './uuid.js';
import { x509Builtins } from './x509.js';
import { yamlBuiltins } from './yaml.js';

const FAMILIES: readonly BuiltinTable[] = [
  awsBuiltins,
  cryptoBuiltins,
  encodingBuiltins,
  globBuiltins,
  globIntersectionBuiltins,
  graphBuiltins,
  graphqlBuiltins,
  jsonBuiltins,
  jsonSchemaBuiltins,
  jwtBuiltins,
  netBuiltins,
  numbersBuiltins,
  objectBuiltins,
  opaRuntimeBuiltins,
  regexBuiltins,
  semverBuiltins,
  sprintfBuiltins,
  stringsBuiltins,
  timeBuiltins,
  traceBuiltins,
  unitsBuiltins,
  urlqueryBuiltins,
  uuidBuiltins,
  x509Builtins,
  yamlBuiltins,
];

export const PROVIDED_BUILTINS: BuiltinTable = Object.freeze(Object.assign({}, ...FAMILIES) as BuiltinTable);
