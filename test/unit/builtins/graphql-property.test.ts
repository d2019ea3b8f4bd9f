// graphql.* on arbitrary documents and AST objects: every call answers (a value or undefined), none throws.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createHostBuiltins } from '../../../src/builtins/index.js';

const host = createHostBuiltins();
const BUILTINS = ['graphql.parse', 'graphql.parse_and_verify', 'graphql.is_valid'] as const;
const SCHEMA = 'type Query { a(x: Int, o: I): A version: String } type A { a: A b: Int } input I { k: [Int!] }';

// Field names of gqlparser's structs (and a few in other cases), so random objects reach the decoders' paths.
const KEYS = [
  'Operations', 'Fragments', 'Operation', 'Name', 'Alias', 'SelectionSet', 'Arguments', 'Directives', 'Value', 'Raw',
  'Kind', 'Children', 'VariableDefinitions', 'VariableDefinition', 'Variable', 'Type', 'NamedType', 'Elem', 'NonNull',
  'TypeCondition', 'DefaultValue', 'Definitions', 'Extensions', 'Schema', 'SchemaExtension', 'Fields', 'Interfaces',
  'Types', 'EnumValues', 'Locations', 'IsRepeatable', 'OperationTypes', 'Position', 'Comment', 'List', 'BuiltIn',
  'name', 'kind', 'fields', 'type',
];
const KINDS = ['query', 'mutation', 'subscription', '', 'OBJECT', 'INTERFACE', 'UNION', 'ENUM', 'INPUT_OBJECT', 'SCALAR', 'Int', 'A', 'I', 'a', 'b'];

const { node } = fc.letrec((tie) => ({
  leaf: fc.oneof(fc.constantFrom(...KINDS), fc.integer({ min: -2, max: 12 }), fc.boolean(), fc.constant(null), fc.double()),
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    tie('leaf'),
    fc.array(tie('node'), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom(...KEYS), tie('node'), { maxKeys: 5 }),
  ),
}));

const TOKENS = ['{', '}', '(', ')', '[', ']', ':', '$', '@', '...', '=', '!', '|', '&', 'query', 'fragment', 'on', 'type', 'extend',
  'a', 'b', 'x', 'A', 'I', 'Int', 'version', '1', '-2.5e3', '"s"', '"""b"""', '# c\n', '\n', '"\\uD800"', 'true', 'null', 'ENUM'];
const text = fc.array(fc.constantFrom(...TOKENS), { maxLength: 40 }).map((tokens) => tokens.join(' '));

function answers(name: string, ...args: unknown[]): void {
  const result = host.builtins[name]!(...args);
  expect(result === undefined || typeof result === 'boolean' || Array.isArray(result) || typeof result === 'object').toBe(true);
}

describe('graphql builtins on arbitrary inputs', () => {
  it('answer for any query object, against a schema text and a schema object', () => {
    fc.assert(
      fc.property(node, node, (query, schema) => {
        for (const name of BUILTINS) {
          answers(name, query, SCHEMA);
          answers(name, '{ version }', schema);
          answers(name, query, schema);
        }
        answers('graphql.schema_is_valid', schema);
      }),
      { numRuns: 400 },
    );
  });

  it('answer for any document text made of GraphQL tokens', () => {
    fc.assert(
      fc.property(text, text, (query, schema) => {
        for (const name of BUILTINS) {
          answers(name, query, SCHEMA);
          answers(name, query, schema);
        }
        answers('graphql.parse_query', query);
        answers('graphql.parse_schema', schema);
        answers('graphql.schema_is_valid', schema);
      }),
      { numRuns: 400 },
    );
  });
});
