// The differential test: every host builtin's cases, evaluated by Go OPA and by opa-wasm with our builtins.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REFUSED_BUILTINS, providedBuiltinNames } from '../../../src/builtins/index.js';
import { ROOT } from '../../helpers/tools.js';
import { hasOpaEnvoyPlugin, runDifferential, type Cases, type Difference } from './differential.js';
import { KNOWN_BUILTIN_DIFFERENCES } from './known-differences.js';
import { FAMILIES } from './cases/index.js';

const hostBuiltins = (JSON.parse(readFileSync(join(ROOT, 'src', 'builtins', 'host-builtins.json'), 'utf8')) as { builtins: string[] }).builtins;

async function casesOf(cases: Cases | (() => Promise<Cases>)): Promise<Cases> {
  return typeof cases === 'function' ? cases() : cases;
}

function callsIn(cases: Cases): string {
  return Object.values(cases)
    .map((call) => (typeof call === 'string' ? call : call.body))
    .join('\n');
}

describe('host builtins against Go OPA', () => {
  it('every builtin the wasm target leaves to the host is provided or deliberately refused', () => {
    const provided = new Set(providedBuiltinNames());
    const neither = hostBuiltins.filter((name) => !provided.has(name) && !Object.hasOwn(REFUSED_BUILTINS, name));
    expect(neither).toEqual([]);
  });

  it('every provided builtin has at least one differential case', async () => {
    const all = await Promise.all(Object.values(FAMILIES).map(async (family) => callsIn(await casesOf(family.cases))));
    const text = all.join('\n');
    // print(…) is compiled to internal.print.
    const called = (name: string): boolean => text.includes(`${name}(`) || (name === 'internal.print' && text.includes('print('));
    const uncovered = providedBuiltinNames().filter((name) => !called(name));
    expect(uncovered).toEqual([]);
  });

  if (!hasOpaEnvoyPlugin()) {
    console.warn('\n!!! SKIPPED: the builtins differential test (test/conformance/builtins) needs .tools/bin/opa-envoy-plugin (built from ../shared/opa-envoy-plugin by scripts/tools.mjs)\n');
  }
  for (const [family, { cases, input }] of Object.entries(FAMILIES)) {
    it.skipIf(!hasOpaEnvoyPlugin())(`${family}: its cases give what Go OPA gives (known differences excepted)`, async () => {
      const { differences } = await runDifferential(family, await casesOf(cases), input);
      const known: Difference[] = KNOWN_BUILTIN_DIFFERENCES.filter((difference) => difference.family === family).map(
        ({ family: f, name, go, wasm }) => ({ family: f, name, go, wasm }),
      );
      expect(differences).toEqual(known);
    });
  }
});
