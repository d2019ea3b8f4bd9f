// Every family's differential cases, with the input document its cases read.
import type { Cases } from '../differential.js';
import { awsCases } from './aws.js';
import { globsCases } from './globs.js';
import { jsonSchemaCases } from './json-schema.js';
import { runtimeCases } from './runtime.js';
import { cryptoCases, netCases, numbersCases, semverCases, unitsCases, uuidCases } from './small.js';
import { jwtCases } from './jwt.js';
import { graphqlCases } from './graphql.js';
import { jsonCases, keysCases, regexCases, sprintfCases, stringsCases, urlCases, yamlCases } from './misc.js';
import { timeCases } from './time.js';
import { x509Cases } from './x509.js';

const INPUT = { number: 1, numbers: [1], object_with_number: { a: 1 }, empty: [], string: 'now', berlin: [1719835230000000000, 'Europe/Berlin'] };

export const FAMILIES: Readonly<Record<string, { cases: Cases | (() => Promise<Cases>); input?: unknown }>> = {
  jwt: { cases: jwtCases, input: INPUT },
  time: { cases: timeCases, input: INPUT },
  now: { cases: { constant: { body: 'a := time.now_ns(); b := time.now_ns(); x := a == b' } }, input: INPUT },
  crypto: { cases: cryptoCases, input: INPUT },
  semver: { cases: semverCases, input: INPUT },
  uuid: { cases: uuidCases, input: INPUT },
  units: { cases: unitsCases, input: INPUT },
  numbers: { cases: numbersCases, input: INPUT },
  net: { cases: netCases, input: INPUT },
  strings: { cases: stringsCases, input: INPUT },
  regex: { cases: regexCases, input: INPUT },
  json: { cases: jsonCases, input: INPUT },
  yaml: { cases: yamlCases, input: INPUT },
  sprintf: { cases: sprintfCases, input: INPUT },
  url: { cases: urlCases, input: INPUT },
  keys: { cases: async () => keysCases(), input: INPUT },
  x509: { cases: x509Cases, input: INPUT },
  aws: { cases: awsCases, input: INPUT },
  globs: { cases: globsCases, input: INPUT },
  json_schema: { cases: jsonSchemaCases, input: INPUT },
  runtime: { cases: runtimeCases, input: INPUT },
  graphql: { cases: graphqlCases, input: INPUT },
};
