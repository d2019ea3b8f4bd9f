// json.verify_schema and json.match_schema (OPA's v1/topdown/jsonschema.go on its copy of gojsonschema), on ajv:
// drafts 4, 6 and 7 chosen by `$schema` as gojsonschema chooses them, patterns in Go's RE2 syntax (re2js, as
// gojsonschema compiles them with Go's regexp), gojsonschema's formats (json-schema-formats.ts), and the common
// validation errors written as gojsonschema writes them (json-schema-errors.ts).
import { Ajv, type AnySchema, type ValidateFunction } from 'ajv';
import AjvDraft04Module from 'ajv-draft-04';
import { RE2JS } from 're2js';
import { BoundedCache, stringBytes } from '../bounded-cache.js';
import { fail, isObject, type BuiltinTable } from './builtin.js';
import { goJsonMarshal } from './go-json.js';
import { checkSchemaAsGojsonschema, forAjv, type GoDraft } from './json-schema-checks.js';
import { GO_FORMATS } from './json-schema-formats.js';
import { toGoSchemaErrors } from './json-schema-errors.js';

// A CommonJS package: its module.exports is the class, with itself as `default` too.
const AjvDraft04 = AjvDraft04Module.default;


/** Patterns are Go regexps (RE2): no backtracking, so a pattern or a string from a request cannot take exponential time. */
const re2 = Object.assign(
  (pattern: string): { test(text: string): boolean; toString(): string } => {
    const compiled = RE2JS.compile(pattern);
    // ajv keeps one compiled pattern per toString(): it must name the pattern.
    return { test: (text: string) => compiled.matcher(text).find(), toString: () => `re2:${pattern}` };
  },
  // Only for ajv's standalone code, which is not used.
  { code: 're2js' },
);

const AJV_OPTIONS = {
  // gojsonschema reports every error, checks no meta-schema (SchemaLoader.Validate is false) and ignores
  // keywords and formats it does not know.
  allErrors: true,
  validateSchema: false,
  strict: false,
  logger: false,
  code: { regExp: re2 },
} as const;

function createAjv(draft: 'draft-04' | 'draft-07'): Ajv {
  const ajv = draft === 'draft-04' ? new AjvDraft04(AJV_OPTIONS) : new Ajv(AJV_OPTIONS);
  // gojsonschema's formats, not ajv-formats' (which read the RFCs differently: `a@b`, `12:00:00` without a zone).
  for (const [name, validate] of Object.entries(GO_FORMATS)) ajv.addFormat(name, { type: 'string', validate });
  return ajv;
}

// One validator per draft; each compiled schema is taken out of it at once (ajv would keep every one).
const ajvs = { 'draft-04': createAjv('draft-04'), 'draft-07': createAjv('draft-07') };

const DRAFT_URLS: Readonly<Record<string, GoDraft>> = {
  'http://json-schema.org/draft-04/schema': 4,
  'http://json-schema.org/draft-06/schema': 6,
  'http://json-schema.org/draft-07/schema': 7,
};

/**
 * The draft gojsonschema's parseSchemaURL picks from `$schema` (which must be a string): one of the three by its
 * URL, else (another URL, or none) its hybrid of all three. Draft 4 compiles with ajv's draft-04 class, the rest
 * with its draft-07 class (the keywords a draft lacks are left out first: forAjv).
 */
function draftOf(schema: unknown): GoDraft {
  if (!isObject(schema) || !Object.hasOwn(schema, '$schema')) return 'hybrid';
  const url = schema['$schema'];
  if (typeof url !== 'string') fail('$schema must be of type string');
  return DRAFT_URLS[url.replace(/#$/, '')] ?? 'hybrid';
}

// Schemas may come from a request: the compiled ones are kept within a bound (a compiled validator is
// estimated at 64 times its schema's text), and a schema over 64 KiB is compiled every time.
const compiledSchemas = new BoundedCache<ValidateFunction>({ maxEntries: 256, maxBytes: 16 * 1024 * 1024, maxKeyLength: 64 * 1024 }, (key) => 64 * stringBytes(key));

/** Compiles a schema (a JSON value); a schema gojsonschema would refuse throws an Error. */
function compileSchema(schema: unknown): ValidateFunction {
  const key = goJsonMarshal(schema);
  const cached = compiledSchemas.get(key);
  if (cached !== undefined) return cached;
  if (typeof schema !== 'boolean' && !isObject(schema)) throw new Error('schema is invalid');
  const draft = draftOf(schema);
  checkSchemaAsGojsonschema(schema, draft);
  const ajv = ajvs[draft === 4 ? 'draft-04' : 'draft-07'];
  // A private copy: ajv marks the objects it has compiled, and the id it registers is removed again below.
  const own = forAjv(schema, draft) as AnySchema;
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(own);
  } finally {
    if (typeof own === 'object') ajv.removeSchema(own);
  }
  compiledSchemas.set(key, validate);
  return validate;
}

/** astValueToJSONSchemaLoader: a string is JSON text (it must be valid), an object or array is the value itself. */
function loadJson(value: unknown): unknown {
  if (typeof value === 'string') {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      throw new Error('invalid JSON string');
    }
  }
  if (isObject(value) || Array.isArray(value)) return value;
  throw new Error('wrong type, expected string or object');
}

export const jsonSchemaBuiltins: BuiltinTable = {
  'json.verify_schema': (_evaluation, schemaArg) => {
    try {
      compileSchema(loadJson(schemaArg));
    } catch (error) {
      return [false, `jsonschema: ${(error as Error).message}`];
    }
    return [true, null];
  },
  'json.match_schema': (_evaluation, documentArg, schemaArg) => {
    let document: unknown;
    let validate: ValidateFunction;
    try {
      document = loadJson(documentArg);
      validate = compileSchema(loadJson(schemaArg));
    } catch (error) {
      fail((error as Error).message);
    }
    const valid = validate(document);
    return [valid, valid ? [] : toGoSchemaErrors(validate.errors ?? [], document)];
  },
};
