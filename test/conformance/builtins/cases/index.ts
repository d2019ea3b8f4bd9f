// Every family's differential cases, with the input document its cases read.
import type { Cases } from '../differential.js';
import { cryptoCases, netCases, numbersCases, semverCases, unitsCases, uuidCases } from './small.js';
import { jwtCases } from './jwt.js';
import { timeCases } from './time.js';

const INPUT = { number: 1, numbers: [1], empty: [], string: 'now', berlin: [1719835230000000000, 'Europe/Berlin'] };

export const FAMILIES: Readonly<Record<string, { cases: Cases | (() => Promise<Cases>); input?: unknown }>> = {
  jwt: { cases: jwtCases, input: INPUT },
  time: { cases: timeCases, input: INPUT },
  crypto: { cases: cryptoCases, input: INPUT },
  semver: { cases: semverCases, input: INPUT },
  uuid: { cases: uuidCases, input: INPUT },
  units: { cases: unitsCases, input: INPUT },
  numbers: { cases: numbersCases, input: INPUT },
  net: { cases: netCases, input: INPUT },
};
