// The README's "Deliberate differences from opa-envoy-plugin" table and the differential suite's list are one
// list: every row the suite observes is an entry of differences.ts, and every entry is a row.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DELIBERATE, PENDING, UNDECIDED } from './differences.js';
import { ROOT } from './meshwarden.js';

/** Rows no request of the suite can show: they are about flags or about what a policy sets. */
const NOT_OBSERVED_BY_THE_SUITE: Record<string, string> = {
  'dry-run': 'a flag of each server (--shadow is tested in test/integration/fail-closed.test.ts)',
  'header values a decision sets': 'tested in both modes in test/integration/http-mode.test.ts',
  'a builtin meshwarden does not provide (`http.send`, `net.lookup_ip_addr`, `rego.parse_module`…, see "Builtins")':
    'a refused bundle never serves: tested in test/integration/builtins.test.ts and test/unit/check/policy.test.ts',
  'a GraphQL document (`graphql.*`) nested past 128 brackets, of more than 20,000 tokens or 10,000 comments, or whose field-merging check needs more than 500,000 comparisons':
    'builtin calls, not CheckRequests: the builtins differential suite (test/conformance/builtins/known-differences.ts) and test/unit/builtins/graphql.test.ts',
  'a GraphQL schema object with a field without `Type` (`graphql.*`)':
    'the real binary crashes on it, so only test/unit/builtins/graphql.test.ts shows our side',
};

function readmeRows(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Deliberate differences from opa-envoy-plugin'));
  const table = section.slice(0, section.indexOf('\n\n', section.indexOf('|')));
  return table
    .split('\n')
    .filter((line) => line.startsWith('| ') && !line.startsWith('| situation') && !line.startsWith('|---'))
    .map((line) => line.slice(2, line.indexOf(' | ')));
}

describe('the deliberate differences', () => {
  it('are the rows of the README table, one entry each', () => {
    const rows = readmeRows();
    expect(rows.length).toBeGreaterThan(10);
    expect(DELIBERATE.map((entry) => entry.readme).filter((row) => !rows.includes(row))).toEqual([]);
    expect(rows.filter((row) => !DELIBERATE.some((entry) => entry.readme === row) && !(row in NOT_OBSERVED_BY_THE_SUITE))).toEqual([]);
  });

  it('leave nothing undecided', () => {
    expect(UNDECIDED).toEqual([]);
    expect(PENDING.map((entry) => entry.id).filter((id) => !id.startsWith('builtin-') && !id.startsWith('known-'))).toEqual([]);
  });
});
