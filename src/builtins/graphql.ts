// graphql.*: OPA's topdown/graphql.go, on graphql-js for parsing and query rules, gqlparser's shapes for results.
import { BuiltinError, fail, isObject, type BuiltinTable } from './builtin.js';
import { decodeQueryDocument, decodeSchemaDocument } from './graphql-decode.js';
import { pruneGoNode, type GoNode } from './graphql-model.js';
import { parseQueryText, parseSchemaText } from './graphql-parse.js';
import { validateSchemaDocument } from './graphql-schema.js';
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
  const schemaDocument = schemaDocumentOf(schema, 2);
  const schemaAst = pruneGoNode(schemaDocument);
  const validated = validateSchemaDocument(schemaDocument);
  const queryAst = pruneGoNode(queryDocument);
  validateQuery(validated, queryDocument);
  return [queryAst, schemaAst];
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
      validateQuery(validateSchemaDocument(schemaDocumentOf(schema, 2)), queryDocument);
      return true;
    }),
  'graphql.schema_is_valid': (_evaluation, schema) =>
    orElse(false, () => {
      validateSchemaDocument(schemaDocumentOf(schema, 1));
      return true;
    }),
};
