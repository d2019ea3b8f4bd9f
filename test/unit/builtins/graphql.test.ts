// graphql.*: what a caller's document can make them do stays bounded, and no outcome escapes as an exception.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import { createHostBuiltins } from '../../../src/builtins/index.js';
import { GRAPHQL_LIMITS } from '../../../src/builtins/graphql-parse.js';
import { compileRegoToWasm } from '../../helpers/policies.js';

const SCHEMA = 'type Query { a: A version: String } type A { a: A b: Int }';
const host = createHostBuiltins();
const call = (name: string, ...args: unknown[]): unknown => host.builtins[name]!(...args);

/** `{ a { a { … { b } … } } }`, nested `levels` + 1 braces deep. */
const nested = (levels: number): string => `${'{ a '.repeat(levels)}{ b }${' }'.repeat(levels)}`;

/** The same query as an object, built without recursion. */
function nestedObject(levels: number): unknown {
  let selection: Record<string, unknown> = { Alias: 'b', Name: 'b' };
  for (let i = 0; i < levels; i++) selection = { Alias: 'a', Name: 'a', SelectionSet: [selection] };
  return { Operations: [{ Operation: 'query', SelectionSet: [selection] }] };
}

describe('graphql limits', () => {
  it('accepts a document at the nesting limit and refuses one past it, as a builtin error', () => {
    expect(call('graphql.is_valid', nested(GRAPHQL_LIMITS.maxNesting - 1), SCHEMA)).toBe(true);
    expect(call('graphql.is_valid', nested(GRAPHQL_LIMITS.maxNesting), SCHEMA)).toBe(false);
    expect(call('graphql.parse_query', nested(GRAPHQL_LIMITS.maxNesting))).toBeUndefined();
  });

  it('answers a document nested 6,000 deep (within the token limit) without overflowing the stack', () => {
    const deep = nested(6_000);
    expect(call('graphql.parse_query', deep)).toBeUndefined();
    expect(call('graphql.parse', deep, SCHEMA)).toBeUndefined();
    expect(call('graphql.is_valid', deep, SCHEMA)).toBe(false);
    expect(call('graphql.parse_and_verify', deep, SCHEMA)).toEqual([false, {}, {}]);
    expect(call('graphql.parse_schema', `type Query { a(x: Int = ${'['.repeat(15_000)}) : Int }`)).toBeUndefined();
  });

  it('answers an object query nested 100,000 deep without overflowing the stack', () => {
    expect(call('graphql.is_valid', nestedObject(100_000), SCHEMA)).toBe(false);
    expect(call('graphql.parse_and_verify', nestedObject(100_000), SCHEMA)).toEqual([false, {}, {}]);
    expect(call('graphql.is_valid', nestedObject(20), SCHEMA)).toBe(true);
  });

  it('refuses a document of more tokens than the limit', () => {
    const within = `{ ${'version '.repeat(400)}}`;
    expect(call('graphql.is_valid', within, SCHEMA)).toBe(true);
    const past = `{ ${'version '.repeat(GRAPHQL_LIMITS.maxTokens)}}`;
    expect(call('graphql.parse_query', past)).toBeUndefined();
    expect(call('graphql.is_valid', past, SCHEMA)).toBe(false);
  });

  it('refuses a document of more comments than the limit', () => {
    expect(call('graphql.is_valid', `${'# c\n'.repeat(100)}{ version }`, SCHEMA)).toBe(true);
    expect(call('graphql.is_valid', `${'# c\n'.repeat(GRAPHQL_LIMITS.maxComments + 1)}{ version }`, SCHEMA)).toBe(false);
  });

  it("stops a field-merging check at graphql-js's budget instead of spending quadratic time", () => {
    // 3,000 copies of one field would be 4.5 million comparisons; the budget stops at 500,000.
    expect(call('graphql.is_valid', `{ ${'version '.repeat(3000)}}`, SCHEMA)).toBe(false);
  });
});

describe('graphql inputs that make gqlparser panic', () => {
  it('a schema object whose field has no type is invalid (opa-envoy-plugin dereferences nil and crashes)', () => {
    const schema = { Definitions: [{ Kind: 'OBJECT', Name: 'Query', Fields: [{ Name: 'a' }] }] };
    expect(call('graphql.schema_is_valid', schema)).toBe(false);
    expect(call('graphql.is_valid', '{ a }', schema)).toBe(false);
    expect(call('graphql.parse', '{ a }', schema)).toBeUndefined();
  });

  it('a query object with an unknown operation type is invalid (gqlparser panics in KnownRootType)', () => {
    expect(call('graphql.is_valid', { Operations: [{ Operation: 'teleport', SelectionSet: [{ Name: 'version' }] }] }, SCHEMA)).toBe(false);
  });

  it('null elements in a schema object are invalid, not a crash', () => {
    expect(call('graphql.schema_is_valid', { Definitions: [null] })).toBe(false);
    expect(call('graphql.schema_is_valid', { Definitions: [{ Kind: 'OBJECT', Name: 'Query', Fields: [null] }] })).toBe(false);
  });
});

describe('graphql inside a policy', () => {
  it('a caller-sized query in the input decides, it does not fail the evaluation', async () => {
    const rego = `package t\n\nallow := graphql.is_valid(input.query, ${JSON.stringify(SCHEMA)})\n`;
    const policy = await loadPolicy(readFileSync(compileRegoToWasm(rego, 't/allow')), undefined, host.builtins);
    host.beginEvaluation();
    expect(policy.evaluate({ query: '{ a { b } }' })).toEqual([{ result: true }]);
    host.beginEvaluation();
    expect(policy.evaluate({ query: nested(6_000) })).toEqual([{ result: false }]);
    host.beginEvaluation();
    expect(policy.evaluate({ query: `{ ${'a { b } '.repeat(30_000)}}` })).toEqual([{ result: false }]);
  });
});

describe('graphql schema cache', () => {
  it('answers from a cached schema exactly as from a freshly built one', () => {
    const first = call('graphql.parse', '{ a { b } }', SCHEMA);
    expect(call('graphql.parse', '{ a { b } }', SCHEMA)).toEqual(first);
    // Another text (a trailing comment) is another key: built anew, with the comment in its AST.
    const fresh = call('graphql.parse', '{ a { b } }', `${SCHEMA} # fresh`) as [unknown, Record<string, unknown>];
    expect(fresh[0]).toEqual((first as unknown[])[0]);
    expect(fresh[1]).toEqual({ ...((first as unknown[])[1] as object), Comment: { List: [{ Value: '# fresh' }] } });
  });

  it('never keeps an invalid schema: it stays invalid', () => {
    expect(call('graphql.schema_is_valid', 'type Query { a: Missing }')).toBe(false);
    expect(call('graphql.schema_is_valid', 'type Query { a: Missing }')).toBe(false);
    expect(call('graphql.is_valid', '{ a }', 'type Query { a: Missing }')).toBe(false);
  });
});
