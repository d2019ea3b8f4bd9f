// graphql.*: OPA's topdown/graphql.go, on graphql-js for parsing and query rules, gqlparser's shapes for results.
import { BoundedCache } from '../bounded-cache.js';
import { BuiltinError, fail, isObject, type BuiltinTable } from './builtin.js';
import { decodeQueryDocument, decodeSchemaDocument } from './graphql-decode.js';
import { pruneGoNode, type GoNode } from './graphql-model.js';
import { parseQueryText, parseSchemaText } from './graphql-parse.js';
import { validateSchemaDocument, type ValidatedSchema } from './graphql-schema.js';
import { validateQuery } from './graphql-validate.js';

/** A query given as a string is parsed, as an object decoded (OPA: parseQuery / objectToQueryDocument). */
function queryDocumentOf(value: unknown, position: number): GoNode {
  if (typeof value === 'string') return parseQueryText(value);
  if (isObject(value)) return decodeQueryDocument(value);
  fail(`operand ${position} must be one of {string, object}`);
}

function schemaDocumentOf(value: unknown, position: number): GoNode {
  if (typeof value === 'string') return parseSchemaText(value);
  if (isObject(value)) return decodeSchemaDocument(value);
  fail(`operand ${position} must be one of {string, object}`);
}

interface CheckedSchema {
  readonly validated: ValidatedSchema;
  /** The schema's AST as graphql.parse returns it (never changed: results are only serialised). */
  readonly ast: unknown;
}

/**
 * Valid schemas given as text, by that text, as OPA's inter-query cache keeps them (10 entries, only valid
 * ones): a policy's schema is a constant, and building one costs milliseconds. Bounded in bytes too, with a
 * generous estimate of what a built schema holds per character of its text.
 */
const SCHEMA_CACHE = new BoundedCache<CheckedSchema>(
  { maxEntries: 10, maxBytes: 32 << 20, maxKeyLength: 256 << 10 },
  (key) => 64 * key.length + (64 << 10),
);

function checkedSchemaOf(value: unknown, position: number): CheckedSchema {
  if (typeof value === 'string') {
    const cached = SCHEMA_CACHE.get(value);
    if (cached !== undefined) return cached;
  }
  const document = schemaDocumentOf(value, position);
  // The AST is taken before validation, which merges extensions into the definitions it is given.
  const ast = pruneGoNode(document);
  const checked = { validated: validateSchemaDocument(document), ast };
  if (typeof value === 'string') SCHEMA_CACHE.set(value, checked);
  return checked;
}

/** The value a builtin error turns into where OPA answers with a value instead of an error. */
function orElse<T>(fallback: T, compute: () => T): T {
  try {
    return compute();
  } catch (error) {
    if (error instanceof BuiltinError) return fallback;
    throw error;
  }
}

/** builtinGraphQLParse's order: the query, the schema (its AST taken before validation), validation. */
function parseAndValidate(query: unknown, schema: unknown): [unknown, unknown] {
  const queryDocument = queryDocumentOf(query, 1);
  const { validated, ast } = checkedSchemaOf(schema, 2);
  const queryAst = pruneGoNode(queryDocument);
  validateQuery(validated, queryDocument);
  return [queryAst, ast];
}

export const graphqlBuiltins: BuiltinTable = {
  'graphql.parse': (_evaluation, query, schema) => parseAndValidate(query, schema),
  'graphql.parse_and_verify': (_evaluation, query, schema) =>
    orElse<unknown[]>([false, {}, {}], () => {
      const [queryAst, schemaAst] = parseAndValidate(query, schema);
      return [true, queryAst, schemaAst];
    }),
  'graphql.parse_query': (_evaluation, query) => {
    if (typeof query !== 'string') fail('operand 1 must be string');
    return pruneGoNode(parseQueryText(query));
  },
  'graphql.parse_schema': (_evaluation, schema) => {
    if (typeof schema !== 'string') fail('operand 1 must be string');
    return pruneGoNode(parseSchemaText(schema));
  },
  'graphql.is_valid': (_evaluation, query, schema) =>
    orElse(false, () => {
      const queryDocument = queryDocumentOf(query, 1);
      validateQuery(checkedSchemaOf(schema, 2).validated, queryDocument);
      return true;
    }),
  'graphql.schema_is_valid': (_evaluation, schema) =>
    orElse(false, () => {
      checkedSchemaOf(schema, 1);
      return true;
    }),
};
