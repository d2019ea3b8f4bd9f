// Differences from Go OPA that cannot be fixed here, each with its reason; the differential test asserts them exactly.
import type { Difference } from './differential.js';

export interface KnownDifference extends Difference {
  readonly reason: string;
}

const ARGUMENT_PRECISION =
  'opa-wasm hands builtins their arguments through JSON.parse of opa_json_dump, so an integer beyond 2^53 arrives rounded to a double; results are written back exactly (an ArrayBuffer of JSON text), arguments cannot be';
const SETS_AS_ARRAYS =
  "opa-wasm dumps a set as a JSON array, so a builtin cannot tell a set from an array: a set's elements are taken as an array's (indexes as keys, contiguous-run subset)";

const GRAPHQL_NESTING =
  'meshwarden bounds a GraphQL document at 128 nested brackets so that parsing, conversion and validation cannot overflow the stack; gqlparser recurses without a bound (Go stacks grow to 1 GB)';
const GRAPHQL_MERGE_BUDGET =
  "graphql-js bounds OverlappingFieldsCanBeMerged at 500,000 field comparisons and reports the query invalid past it; gqlparser's rule is quadratic without a bound";
const GRAPHQL_CONST_GRAMMAR =
  'gqlparser reads directives on variable definitions and on input-object extensions as non-constant (a $variable allowed); graphql-js parses them as constant, as the GraphQL grammar says';
const GRAPHQL_EXTEND_DESCRIPTION =
  'gqlparser lets an empty description ("") stand before `extend`; graphql-js refuses any description there';

export const KNOWN_BUILTIN_DIFFERENCES: readonly KnownDifference[] = [
  {
    family: 'time',
    name: 'format_nanoseconds',
    go: '2024-01-01T00:00:00.123456789Z',
    wasm: '2024-01-01T00:00:00.123456768Z',
    reason: ARGUMENT_PRECISION,
  },
  {
    family: 'net',
    name: 'matches_set',
    go: [['10.0.0.0/8', 0]],
    wasm: [[0, 0]],
    reason: SETS_AS_ARRAYS,
  },
  {
    family: 'strings',
    name: 'object_subset_sets',
    go: true,
    wasm: false,
    reason: SETS_AS_ARRAYS,
  },
  {
    family: 'sprintf',
    name: 'big',
    go: '12345678901234567890',
    wasm: '12345678901234567168',
    reason: ARGUMENT_PRECISION,
  },
  {
    family: 'graphql',
    name: 'deep_past_limit',
    go: true,
    wasm: false,
    reason: GRAPHQL_NESTING,
  },
  {
    family: 'graphql',
    name: 'deep_past_limit_parse',
    go: 1,
    wasm: undefined,
    reason: GRAPHQL_NESTING,
  },
  {
    family: 'graphql',
    name: 'repeated_field_past_budget',
    go: true,
    wasm: false,
    reason: GRAPHQL_MERGE_BUDGET,
  },
  {
    family: 'graphql',
    name: 'lex_variable_directive',
    go: {"Operations": [{"Name": "", "Operation": "query", "SelectionSet": [{"Alias": "f", "Name": "f"}], "VariableDefinitions": [{"Directives": [{"Arguments": [{"Name": "x", "Value": {"ExpectedTypeHasDefault": false, "Kind": 0, "Raw": "b"}}], "Location": "", "Name": "d"}], "Type": {"NamedType": "Int", "NonNull": false}, "Used": false, "Variable": "a"}]}]},
    wasm: undefined,
    reason: GRAPHQL_CONST_GRAMMAR,
  },
  {
    family: 'graphql',
    name: 'schema_empty_description_extend',
    go: {"Extensions": [{"BuiltIn": false, "Description": "", "Fields": [{"Description": "", "Name": "a", "Type": {"NamedType": "Int", "NonNull": false}}], "Kind": "OBJECT", "Name": "T"}]},
    wasm: undefined,
    reason: GRAPHQL_EXTEND_DESCRIPTION,
  },
  {
    family: 'graphql',
    name: 'schema_input_extension_variable',
    go: {"Extensions": [{"BuiltIn": false, "Description": "", "Directives": [{"Arguments": [{"Name": "a", "Value": {"ExpectedTypeHasDefault": false, "Kind": 0, "Raw": "x"}}], "Location": "", "Name": "d"}], "Kind": "INPUT_OBJECT", "Name": "I"}]},
    wasm: undefined,
    reason: GRAPHQL_CONST_GRAMMAR,
  },
];
