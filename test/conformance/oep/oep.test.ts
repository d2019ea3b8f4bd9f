// The differential suite (issue 11 item 5): the same encoded CheckRequest bytes go to the real
// opa-envoy-plugin v1.19.1-envoy and to meshwarden, both real processes on 127.0.0.1 serving the same Rego,
// and both answers are compared field by field (the input documents too, key by key, via the echo policy).
// Every difference must be one differences.ts lists for that case, exactly; any other fails.
// PENDING and UNDECIDED differences are printed loudly and pass, unless OEP_PENDING=fail (switch them on).
// OEP_DUMP=<substring of a case name> prints both sides' fields of the matching cases.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CASES, type Case, type Group } from './cases.js';
import { differingFields, show, type Fields } from './compare.js';
import { DELIBERATE, PENDING, UNDECIDED, type Pending, type Shape } from './differences.js';
import { OEP_BINARY, OEP_SOURCE, findOpaEnvoyPlugin, observeAll, type Observation } from './runner.js';

const binary = findOpaEnvoyPlugin();
const strictPending = process.env['OEP_PENDING'] === 'fail';

/** The problems of one case: differences no entry lists, and listed fields whose value is not the listed one. */
function assess(c: Case, observation: Observation): string[] {
  const shape: Shape = {};
  for (const difference of DELIBERATE) Object.assign(shape, difference.cases[c.name]);
  const problems: string[] = [];
  const describeField = (field: string, fields: Fields): string => show(fields[field]);
  for (const field of differingFields(observation.oep, observation.meshwarden)) {
    if (!(field in shape)) problems.push(`unlisted difference in ${field}: OEP ${describeField(field, observation.oep)}, meshwarden ${describeField(field, observation.meshwarden)}`);
  }
  for (const [field, { oep, meshwarden }] of Object.entries(shape)) {
    if (!oep.test(observation.oep[field])) problems.push(`${field}: OEP has ${describeField(field, observation.oep)}, the listed difference says ${oep.describe}`);
    if (!meshwarden.test(observation.meshwarden[field])) problems.push(`${field}: meshwarden has ${describeField(field, observation.meshwarden)}, the listed difference says ${meshwarden.describe}`);
  }
  return problems;
}

function tolerated(name: string): { list: 'PENDING' | 'UNDECIDED'; entry: Pending } | undefined {
  const pending = PENDING.find((entry) => entry.cases.includes(name));
  if (pending) return { list: 'PENDING', entry: pending };
  const undecided = UNDECIDED.find((entry) => entry.cases.includes(name));
  return undecided ? { list: 'UNDECIDED', entry: undecided } : undefined;
}

if (binary === undefined) {
  const why = process.env['OEP_BINARY'] !== undefined
    ? `OEP_BINARY=${process.env['OEP_BINARY']} does not exist`
    : `${OEP_BINARY} is absent and ${OEP_SOURCE}/build.sh, which would build it, is not there either`;
  console.warn(`\n!!! SKIPPED: the differential suite against opa-envoy-plugin (test/conformance/oep) did not run: ${why}.\n`);
  describe('differential suite against the real opa-envoy-plugin', () => {
    it.skip('SKIPPED: opa-envoy-plugin binary absent (.tools/bin/opa-envoy-plugin; ../shared/opa-envoy-plugin not found)', () => {});
  });
} else {
  describe('differential suite against the real opa-envoy-plugin', () => {
    let observed: Map<string, Observation>;
    const report: string[] = [];
    const nowMatching: string[] = [];

    beforeAll(async () => {
      observed = await observeAll(binary, CASES);
    }, 100_000);

    afterAll(() => {
      if (report.length > 0) {
        console.warn(`\n!!! ${report.length} PENDING/UNDECIDED differences from opa-envoy-plugin (tolerated; OEP_PENDING=fail makes them fail):\n${report.join('\n')}\n`);
      }
      if (nowMatching.length > 0) {
        console.warn(`\n!!! these PENDING/UNDECIDED cases now match opa-envoy-plugin; remove them from test/conformance/oep/differences.ts:\n  ${nowMatching.join('\n  ')}\n`);
      }
    });

    it('has at least 150 cases with unique names, and every difference names existing cases', () => {
      const names = new Set(CASES.map((c) => c.name));
      expect(CASES.length).toBeGreaterThanOrEqual(150);
      expect(names.size).toBe(CASES.length);
      const listed = [...DELIBERATE.flatMap((d) => Object.keys(d.cases)), ...[...PENDING, ...UNDECIDED].flatMap((p) => p.cases)];
      expect(listed.filter((name) => !names.has(name))).toEqual([]);
      for (const difference of DELIBERATE) expect(Object.keys(difference.cases).length, difference.id).toBeGreaterThan(0);
    });

    const groups: Group[] = ['input', 'decision', 'builtin', 'known'];
    for (const group of groups) {
      describe(group, () => {
        for (const c of CASES.filter((item) => item.group === group)) {
          const tolerance = tolerated(c.name);
          const title = tolerance ? `${c.name} [${tolerance.list.toLowerCase()}: ${tolerance.entry.id}]` : c.name;
          it(title, () => {
            const observation = observed.get(c.name);
            expect(observation, 'observed').toBeDefined();
            const dump = process.env['OEP_DUMP'];
            if (dump && c.name.includes(dump)) {
              const lines = (fields: Fields): string => Object.entries(fields).map(([field, value]) => `    ${field} = ${show(value)}`).join('\n');
              console.log(`${c.name}\n  OEP\n${lines(observation!.oep)}\n  meshwarden\n${lines(observation!.meshwarden)}`);
            }
            const problems = assess(c, observation!);
            if (tolerance && !strictPending) {
              if (problems.length === 0) nowMatching.push(c.name);
              else {
                const shown = problems.length > 6 ? [...problems.slice(0, 6), `…and ${problems.length - 6} more`] : problems;
                report.push(`  [${tolerance.list} ${tolerance.entry.id}] ${c.name}\n      ${shown.join('\n      ')}`);
              }
              return;
            }
            expect(problems, `${c.name}: OEP ${show(observation!.oep)}\nmeshwarden ${show(observation!.meshwarden)}`).toEqual([]);
          });
        }
      });
    }
  });
}
