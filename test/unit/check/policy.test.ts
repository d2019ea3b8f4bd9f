// policy.evaluate writes the input straight into the wasm memory and reads the result from it (ABI 1.2
// opa_eval); these tests hold it to what opa-wasm's own LoadedPolicy.evaluate answers.
import { readFileSync } from 'node:fs';
import { loadPolicy as loadWasmPolicy } from '@open-policy-agent/opa-wasm';
import { describe, expect, it } from 'vitest';
import { loadPolicy } from '../../../src/check/policy.js';
import { ConfigError } from '../../../src/errors.js';
import { compileRegoToWasm } from '../../helpers/policies.js';

const ECHO = `package t

result := {"input": input, "data": d, "size": count(json.marshal(input))}

default d := null

d := data.d
`;

describe('policy.evaluate', () => {
  const wasm = compileRegoToWasm(ECHO, 't/result');

  async function reference(dataJson = '{}') {
    const loaded = await loadWasmPolicy(readFileSync(wasm));
    loaded.setData(JSON.parse(dataJson) as object);
    return (inputJson: string): unknown => loaded.evaluate(new TextEncoder().encode(inputJson).buffer as ArrayBuffer, 't/result');
  }

  const inputs: [string, string][] = [
    ['an object', '{"a":1,"b":[true,null,"x"],"c":{"d":-2.5e3}}'],
    ['non-ASCII text', JSON.stringify({ s: 'Grüße, 東京, 🙂, \u2028', k: { 'ключ': 'значение' } })],
    ['escapes', JSON.stringify({ s: 'quote " backslash \\ newline \n NUL \u0000 tab \t' })],
    ['a number beyond 2^53', '{"n":12345678901234567890123}'],
    ['an empty object', '{}'],
    ['a scalar', '"just a string"'],
  ];

  it.each(inputs)('answers as opa-wasm does for %s', async (_name, inputJson) => {
    const policy = await loadPolicy({ path: wasm });
    const expected = (await reference())(inputJson);
    expect(policy.evaluate(inputJson)).toEqual(expected);
    // and again: each evaluation starts from the same heap
    expect(policy.evaluate(inputJson)).toEqual(expected);
  });

  it('grows the wasm memory for an input larger than it, and keeps working after', async () => {
    const policy = await loadPolicy({ path: wasm });
    const evaluateReference = await reference();
    // opa-wasm starts with 5 pages (320 KiB); 3 MB of multi-byte text needs more than that
    const big = JSON.stringify({ items: Array.from({ length: 20_000 }, (_, i) => `élément ${i} ${'€'.repeat(40)}`) });
    expect(Buffer.byteLength(big)).toBeGreaterThan(2_000_000);
    const answer = policy.evaluate(big) as [{ result: { size: number; input: { items: string[] } } }];
    expect(answer).toEqual(evaluateReference(big));
    expect(answer[0].result.input.items).toHaveLength(20_000);
    for (const [, inputJson] of inputs) expect(policy.evaluate(inputJson)).toEqual(evaluateReference(inputJson));
  });

  it('evaluates with the data it is given in place of its own', async () => {
    const policy = await loadPolicy({ path: wasm }, { dataJson: '{"d":{"rules":["one","two"]}}' });
    const expected = (await reference('{"d":{"rules":["one","two"]}}'))('{"x":1}');
    expect(policy.evaluate('{"x":1}')).toEqual(expected);
    expect(policy.evaluate('{"x":1}')).toEqual([{ result: { input: { x: 1 }, data: { rules: ['one', 'two'] }, size: 7 } }]);
    const bigger = await loadPolicy({ path: wasm }, { dataJson: JSON.stringify({ d: Array.from({ length: 50_000 }, (_, i) => i) }) });
    expect(bigger.revision).not.toBe(policy.revision);
    const result = bigger.evaluate('{"x":2}') as [{ result: { data: number[]; input: unknown } }];
    expect(result[0].result.data).toHaveLength(50_000);
    expect(result[0].result.input).toEqual({ x: 2 });
  });
});

describe('loadPolicy and the host builtins', () => {
  it('refuses at load a policy that calls a builtin meshwarden does not provide, naming it and why', async () => {
    const wasm = compileRegoToWasm('package t\n\nallow := http.send({"method": "GET", "url": "http://127.0.0.1:1"}).status_code == 200\n', 't/allow');
    const error = await loadPolicy({ path: wasm }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([expect.stringMatching(/calls http\.send, which meshwarden does not provide \(.*(synchronous|event loop).*\)/)]);
  });

  it('evaluates a policy that calls provided builtins, time.now_ns fixed within one evaluation', async () => {
    const wasm = compileRegoToWasm(
      'package t\n\nresult := {"sha": crypto.sha256("abc"), "semver": semver.compare("1.2.3", "1.10.0"), "bytes": units.parse_bytes("2KiB"), "same": time.now_ns() == time.now_ns(), "now": time.now_ns()}\n',
      't/result',
    );
    const policy = await loadPolicy({ path: wasm });
    const [first] = policy.evaluate('{}') as [{ result: { sha: string; semver: number; bytes: number; same: boolean; now: number } }];
    expect(first.result).toMatchObject({ sha: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', semver: -1, bytes: 2048, same: true });
    expect(Math.abs(first.result.now / 1e6 - Date.now())).toBeLessThan(60_000);
  });
});
