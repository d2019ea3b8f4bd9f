// Differences from Go OPA that cannot be fixed here, each with its reason; the differential test asserts them exactly.
import { PACKAGE_VERSION } from '../../../src/package-paths.js';
import type { Difference } from './differential.js';

export interface KnownDifference extends Difference {
  readonly reason: string;
}

const ARGUMENT_PRECISION =
  'opa-wasm hands builtins their arguments through JSON.parse of opa_json_dump, so an integer beyond 2^53 arrives rounded to a double; results are written back exactly (an ArrayBuffer of JSON text), arguments cannot be';
const SETS_AS_ARRAYS =
  "opa-wasm dumps a set as a JSON array, so a builtin cannot tell a set from an array: a set's elements are taken as an array's (indexes as keys, contiguous-run subset)";

const NUMBER_TEXT =
  "providers.aws.sign_req hashes a body object as Go's json.Marshal writes it, and Go keeps a number's literal text (1.0, 1e3, 2.5e-3); opa-wasm hands builtins the parsed value (1, 1000, 0.0025), so the payload hash and the signature differ for such numbers";
const GLOB_SEARCH_BOUND =
  "regex.globs_match's search is bounded (src/builtins/glob-intersection.ts: 2,000,000 steps, 1,000 nested), where Go's is unbounded and exponential; past the bound the call is undefined";

const RUNTIME_VERSION =
  "opa.runtime().version is meshwarden's own version (package.json), not an OPA release: meshwarden is not OPA, and a policy that compares OPA versions should not be told it runs on one";

const SCHEMA_REFERENCE_TEXT =
  "json.verify_schema's message for a schema ajv refuses and gojsonschema's parser does not check itself (an unresolvable $ref) is ajv's; the boolean agrees (the *_valid case)";
const SCHEMA_COMPOSITE_ERRORS =
  "json.match_schema's errors under anyOf (and a oneOf no branch passes): gojsonschema lists the composite's error and then the errors of its best-scoring branch only, ajv every branch's errors and then the composite's; the boolean agrees";
const GRAPHQL_NESTING =
  'meshwarden bounds a GraphQL document at 128 nested brackets so that parsing, conversion and validation cannot overflow the stack; gqlparser recurses without a bound (Go stacks grow to 1 GB)';
const GRAPHQL_TOKENS =
  'meshwarden bounds a GraphQL document at 20,000 tokens: a builtin runs synchronously inside wasm, where no deadline can stop it; gqlparser has no bound';
const GRAPHQL_MERGE_BUDGET =
  "graphql-js bounds OverlappingFieldsCanBeMerged at 500,000 field comparisons and reports the query invalid past it; gqlparser's rule is quadratic without a bound";

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
    family: 'globs',
    name: 'deep_nesting',
    go: true,
    wasm: undefined,
    reason: GLOB_SEARCH_BOUND,
  },
  {
    family: 'runtime',
    name: 'version',
    go: '1.19.1-envoy',
    wasm: PACKAGE_VERSION,
    reason: RUNTIME_VERSION,
  },
  {
    family: 'json_schema',
    name: 'verify_ref_missing',
    go: [false, "jsonschema: Object has no key 'definitions'"],
    wasm: [false, "jsonschema: can't resolve reference #/definitions/nope from id #"],
    reason: SCHEMA_REFERENCE_TEXT,
  },
  {
    family: 'json_schema',
    name: 'match_any_of',
    go: [false, [{ desc: 'Must validate at least one schema (anyOf)', error: '(Root): Must validate at least one schema (anyOf)', field: '(Root)', type: 'number_any_of' }, { desc: 'Invalid type. Expected: string, given: boolean', error: '(Root): Invalid type. Expected: string, given: boolean', field: '(Root)', type: 'invalid_type' }]],
    wasm: [false, [{ desc: 'Invalid type. Expected: string, given: boolean', error: '(Root): Invalid type. Expected: string, given: boolean', field: '(Root)', type: 'invalid_type' }, { desc: 'Invalid type. Expected: number, given: boolean', error: '(Root): Invalid type. Expected: number, given: boolean', field: '(Root)', type: 'invalid_type' }, { desc: 'Must validate at least one schema (anyOf)', error: '(Root): Must validate at least one schema (anyOf)', field: '(Root)', type: 'number_any_of' }]],
    reason: SCHEMA_COMPOSITE_ERRORS,
  },
  {
    family: 'aws',
    name: 'body_number_text',
    go: 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/execute-api/aws4_request,SignedHeaders=host;x-amz-date,Signature=a5b9d73f0de8f72a494167a6022f8214f9fdefdb29ea8040f726190628e13512',
    wasm: 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/execute-api/aws4_request,SignedHeaders=host;x-amz-date,Signature=ab84c81601b607764e05d18db2ff70bc6dfa82e8ef44fa820a45ed8aff9827b8',
    reason: NUMBER_TEXT,
  },
  {
    family: 'json_schema',
    name: 'match_one_of_none',
    go: [false, [{ desc: 'Must validate one and only one schema (oneOf)', error: '(Root): Must validate one and only one schema (oneOf)', field: '(Root)', type: 'number_one_of' }, { desc: 'Invalid type. Expected: string, given: boolean', error: '(Root): Invalid type. Expected: string, given: boolean', field: '(Root)', type: 'invalid_type' }]],
    wasm: [false, [{ desc: 'Invalid type. Expected: string, given: boolean', error: '(Root): Invalid type. Expected: string, given: boolean', field: '(Root)', type: 'invalid_type' }, { desc: 'Invalid type. Expected: number, given: boolean', error: '(Root): Invalid type. Expected: number, given: boolean', field: '(Root)', type: 'invalid_type' }, { desc: 'Must validate one and only one schema (oneOf)', error: '(Root): Must validate one and only one schema (oneOf)', field: '(Root)', type: 'number_one_of' }]],
    reason: SCHEMA_COMPOSITE_ERRORS,
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
    name: 'past_token_limit',
    go: true,
    wasm: false,
    reason: GRAPHQL_TOKENS,
  },
  {
    family: 'graphql',
    name: 'repeated_field_past_budget',
    go: true,
    wasm: false,
    reason: GRAPHQL_MERGE_BUDGET,
  },
];
