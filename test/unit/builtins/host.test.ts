// The host surface: per-evaluation state, undefined on errors, exact big results, refusal at load, opa-wasm takeover.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import { REFUSED_BUILTINS, createHostBuiltins, providedBuiltinNames, requiredBuiltins, unprovidedBuiltins } from '../../../src/builtins/index.js';
import { OPA_WASM_OWN_BUILTINS, opaWasmBuiltinTable } from '../../../src/builtins/opa-wasm-builtins.js';
import { compileRegoToWasm } from '../../helpers/policies.js';
import { ROOT } from '../../helpers/tools.js';

const decoder = new TextDecoder();
/** What opa-wasm would hand to wasm: an ArrayBuffer is JSON text, anything else is JSON.stringify'd. */
const asJson = (result: unknown): string => (result instanceof ArrayBuffer ? decoder.decode(result) : JSON.stringify(result));

describe('createHostBuiltins', () => {
  it('fixes time.now_ns for one evaluation and moves it at the next', () => {
    let clock = 1_000n;
    const host = createHostBuiltins({ now: () => clock });
    host.beginEvaluation();
    clock = 2_000n;
    expect(asJson(host.builtins['time.now_ns']!())).toBe('1000');
    expect(asJson(host.builtins['time.now_ns']!())).toBe('1000');
    host.beginEvaluation();
    expect(asJson(host.builtins['time.now_ns']!())).toBe('2000');
  });

  it('reads the system clock in nanoseconds by default, close to Date.now()', () => {
    const host = createHostBuiltins();
    host.beginEvaluation();
    const ns = BigInt(asJson(host.builtins['time.now_ns']!()));
    expect(Number(ns / 1_000_000n - BigInt(Date.now()))).toBeLessThan(1000);
    expect(Number(BigInt(Date.now()) - ns / 1_000_000n)).toBeLessThan(1000);
  });

  it('caches rand.intn and uuid.rfc4122 per evaluation and key, and forgets them at the next', () => {
    const host = createHostBuiltins();
    host.beginEvaluation();
    const uuid = host.builtins['uuid.rfc4122']!('k');
    expect(host.builtins['uuid.rfc4122']!('k')).toBe(uuid);
    expect(host.builtins['uuid.rfc4122']!('other')).not.toBe(uuid);
    const draws = new Set<unknown>();
    for (let i = 0; i < 5; i++) draws.add(host.builtins['rand.intn']!('r', 1_000_000_000));
    expect(draws.size).toBe(1);
    host.beginEvaluation();
    expect(host.builtins['uuid.rfc4122']!('k')).not.toBe(uuid);
  });

  it('makes a call undefined when the builtin fails, as OPA does by default', () => {
    const host = createHostBuiltins();
    expect(host.builtins['semver.compare']!('x', '1.0.0')).toBeUndefined();
    expect(host.builtins['time.parse_rfc3339_ns']!(42)).toBeUndefined();
  });

  it('writes integers beyond 2^53 exactly', () => {
    const host = createHostBuiltins();
    expect(asJson(host.builtins['time.parse_rfc3339_ns']!('2024-01-01T00:00:00.123456789Z'))).toBe('1704067200123456789');
  });

  it('provides every builtin of host-builtins.json that is not refused', () => {
    const list = (JSON.parse(readFileSync(join(ROOT, 'src', 'builtins', 'host-builtins.json'), 'utf8')) as { builtins: string[] }).builtins;
    expect(providedBuiltinNames()).toEqual(list.filter((name) => !Object.hasOwn(REFUSED_BUILTINS, name)));
  });
});

describe('unprovidedBuiltins', () => {
  it.each([
    [['time.now_ns', 'io.jwt.decode'], []],
    [['http.send', 'time.now_ns'], ['http.send']],
    [['net.lookup_ip_addr', 'custom.thing'], ['custom.thing', 'net.lookup_ip_addr']],
    [[], []],
  ])('%j → %j', (required, expected) => {
    expect(unprovidedBuiltins(required)).toEqual(expected);
  });

  it('gives a reason for every refused builtin', () => {
    for (const reason of Object.values(REFUSED_BUILTINS)) expect(reason.length).toBeGreaterThan(10);
  });
});

describe('the README\'s "Builtins" section', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Builtins'), readme.indexOf('### The input document'));

  it('counts, and lists by name, the builtins provided and refused', () => {
    const provided = providedBuiltinNames();
    const refused = Object.keys(REFUSED_BUILTINS);
    expect(section).toContain(`meshwarden provides ${provided.length} of them`);
    expect(section).toContain(`the other ${refused.length} is refused`);
    const list = section.split('\n').find((line) => line.startsWith('`base64url.encode_no_pad`'))!;
    expect(list.split(', ').map((name) => name.replaceAll('`', ''))).toEqual(provided);
  });

  it('gives every refused builtin, and only those, a row with its reason', () => {
    const rows = section.split('\n').filter((line) => line.startsWith('| `'));
    const named = rows.flatMap((row) => [...row.slice(0, row.indexOf(' | ', 2)).matchAll(/`([^`]+)`/g)].map((match) => match[1]!));
    expect(named.sort()).toEqual(Object.keys(REFUSED_BUILTINS).sort());
  });
});

describe("opa-wasm's own builtins", () => {
  it('are exactly the ones this version knows (an opa-wasm upgrade that changes them must fail here)', () => {
    createHostBuiltins();
    const remaining = Object.keys(opaWasmBuiltinTable());
    // After the takeover only json.is_valid (which the wasm target never asks the host for) is left.
    expect(remaining).toEqual(['json.is_valid']);
    expect([...OPA_WASM_OWN_BUILTINS].sort()).toEqual(['json.is_valid', 'regex.split', 'sprintf', 'yaml.is_valid', 'yaml.marshal', 'yaml.unmarshal']);
  });

  it("lose to ours inside a loaded policy: sprintf follows Go's fmt, not sprintf-js", async () => {
    const wasm = readFileSync(compileRegoToWasm('package t\n\nr := sprintf("%v|%d|%q", [[1, "a"], "x", "q"])\n', 't/r'));
    const host = createHostBuiltins();
    const policy = await loadPolicy(wasm, undefined, host.builtins);
    host.beginEvaluation();
    expect(policy.evaluate({})).toEqual([{ result: '[1, "a"]|%!d(string=x)|"q"' }]);
  });
});

describe('requiredBuiltins', () => {
  it('lists the host builtins a compiled module imports, so a loader can refuse http.send at start-up', () => {
    const wasm = readFileSync(compileRegoToWasm('package t\n\nr := http.send({"method": "GET", "url": input.u}).status_code\n\ns := time.now_ns()\n', 't'));
    const names = requiredBuiltins(wasm);
    expect(names).toEqual(['http.send', 'time.now_ns']);
    expect(unprovidedBuiltins(names)).toEqual(['http.send']);
  });
});
