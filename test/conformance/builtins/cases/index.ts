// Every family's differential cases, with the input document its cases read.
import type { Cases } from '../differential.js';
import { timeCases } from './time.js';

export const FAMILIES: Readonly<Record<string, { cases: Cases; input?: unknown }>> = {
  time: { cases: timeCases, input: { number: 1, empty: [], string: 'now', berlin: [1719835230000000000, 'Europe/Berlin'] } },
};
