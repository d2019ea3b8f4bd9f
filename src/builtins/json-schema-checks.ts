// The checks gojsonschema's schema parser (OPA's internal/gojsonschema/schema.go) makes that ajv does not make,
// or makes with other words: each throws gojsonschema's own message, so json.verify_schema says what OPA says.
import { RE2JS } from 're2js';
import { compareValues, isObject, type JsonObject } from './builtin.js';

const TYPES = ['array', 'boolean', 'integer', 'number', 'null', 'object', 'string'];
const COUNTS = ['minLength', 'maxLength', 'minProperties', 'maxProperties', 'minItems', 'maxItems'] as const;
const NUMBERS = ['minimum', 'maximum', 'multipleOf'] as const;

const isInteger = (value: unknown): boolean => typeof value === 'number' && Number.isInteger(value);
/** Sorted first, so a long list from a request costs n log n comparisons. */
function hasDuplicates(values: readonly unknown[]): boolean {
  const sorted = [...values].sort(compareValues);
  return sorted.some((value, index) => index > 0 && compareValues(sorted[index - 1], value) === 0);
}

/** Subschemas gojsonschema parses (each checked as a schema in its turn). */
function subschemasOf(schema: JsonObject): unknown[] {
  const out: unknown[] = [];
  for (const key of ['properties', 'patternProperties', 'definitions', 'dependencies']) {
    const map = schema[key];
    if (isObject(map)) out.push(...Object.values(map).filter((value) => !Array.isArray(value)));
  }
  for (const key of ['additionalProperties', 'additionalItems', 'not', 'if', 'then', 'else', 'contains', 'propertyNames']) {
    if (isObject(schema[key])) out.push(schema[key]);
  }
  const items = schema['items'];
  if (isObject(items)) out.push(items);
  if (Array.isArray(items)) out.push(...items);
  for (const key of ['allOf', 'anyOf', 'oneOf']) {
    const list = schema[key];
    if (Array.isArray(list)) out.push(...list);
  }
  return out;
}

function checkType(type: unknown): void {
  if (type === undefined) return;
  const names = typeof type === 'string' ? [type] : Array.isArray(type) && type.every((name) => typeof name === 'string') ? (type as string[]) : undefined;
  if (names === undefined) throw new Error('Invalid type. Expected: type, given: string/Array Of Strings');
  const seen = new Set<string>();
  for (const name of names) {
    if (!TYPES.includes(name)) throw new Error(`has a primitive type that is NOT VALID -- given: /${name}/ Expected valid values are:[array boolean integer number null object string]`);
    if (seen.has(name)) throw new Error(`${name} type is duplicated`);
    seen.add(name);
  }
}

/** Throws gojsonschema's message for the first problem found; a schema without one is left to ajv. */
export function checkSchemaAsGojsonschema(schema: unknown, draft: GoDraft, depth = 0): void {
  // Deeper than any hand-written schema: ajv's own recursion bound applies from here on.
  if (!isObject(schema) || depth > 64) return;
  checkType(schema['type']);
  for (const key of ['exclusiveMaximum', 'exclusiveMinimum']) {
    const value = schema[key];
    // Draft 4's form is a boolean, 6's and 7's a number; the hybrid (no `$schema`) takes either.
    if (value === undefined || (draft === 'hybrid' && (typeof value === 'boolean' || typeof value === 'number'))) continue;
    const expected = draft === 4 ? 'boolean' : 'number';
    if (typeof value !== expected) throw new Error(`Invalid type. Expected: ${expected}, given: ${key}`);
  }
  const items = schema['items'];
  if (items !== undefined && !isObject(items) && !Array.isArray(items) && typeof items !== 'boolean') {
    throw new Error('Invalid type. Expected: Valid Schema/Array Of Schemas, given: items');
  }
  const additional = schema['additionalProperties'];
  if (additional !== undefined && !isObject(additional) && typeof additional !== 'boolean') {
    throw new Error('Invalid type. Expected: boolean/Valid Schema, given: additionalProperties');
  }
  if (schema['uniqueItems'] !== undefined && typeof schema['uniqueItems'] !== 'boolean') throw new Error('uniqueItems must be of a boolean');
  for (const key of COUNTS) {
    const value = schema[key];
    if (value === undefined) continue;
    if (!isInteger(value)) throw new Error(`${key} must be of an integer`);
    if ((value as number) < 0) throw new Error(`${key} must be greater than or equal to 0`);
  }
  if (isInteger(schema['minLength']) && isInteger(schema['maxLength']) && (schema['minLength'] as number) > (schema['maxLength'] as number)) {
    throw new Error('minLength cannot be greater than maxLength');
  }
  if (isInteger(schema['minProperties']) && isInteger(schema['maxProperties']) && (schema['minProperties'] as number) > (schema['maxProperties'] as number)) {
    throw new Error('minProperties cannot be greater than maxProperties');
  }
  for (const key of NUMBERS) {
    const value = schema[key];
    if (value !== undefined && typeof value !== 'number') throw new Error(`${key} must be of a Number`);
  }
  if (typeof schema['multipleOf'] === 'number' && schema['multipleOf'] <= 0) throw new Error('multipleOf must be strictly greater than 0');
  if (schema['properties'] !== undefined && !isObject(schema['properties'])) throw new Error('Properties must be of type object');
  const required = schema['required'];
  if (required !== undefined) {
    if (!Array.isArray(required)) throw new Error('required must be of an array');
    if (hasDuplicates(required)) throw new Error('required items must be unique');
  }
  const enumValues = schema['enum'];
  if (Array.isArray(enumValues) && hasDuplicates(enumValues)) throw new Error('enum items must be unique');
  if (typeof schema['pattern'] === 'string') {
    try {
      RE2JS.compile(schema['pattern']);
    } catch {
      throw new Error('pattern must be a valid regex');
    }
  }
  for (const subschema of subschemasOf(schema)) checkSchemaAsGojsonschema(subschema, draft, depth + 1);
}

/** Which keywords gojsonschema reads: draft 4's, 6's, 7's, or (without `$schema`) all of them. */
export type GoDraft = 4 | 6 | 7 | 'hybrid';

// Keywords gojsonschema reads only from a later draft on (schema.go: `*currentSchema.Draft >= Draft6`, `Draft7`).
const SINCE_DRAFT_6 = ['const', 'contains', 'propertyNames'];
const SINCE_DRAFT_7 = ['if', 'then', 'else'];
// Keywords whose value is a map of name to schema, or a list of schemas, or one schema.
const SCHEMA_MAPS = ['properties', 'patternProperties', 'definitions', 'dependencies'];
const SCHEMA_LISTS = ['allOf', 'anyOf', 'oneOf', 'items'];
const SCHEMAS = ['additionalProperties', 'additionalItems', 'not', 'if', 'then', 'else', 'contains', 'propertyNames', 'items'];

/**
 * The copy of the schema ajv compiles, read as gojsonschema reads it: the keywords its draft does not know are
 * left out; an empty `enum` (no constraint to gojsonschema, refused by ajv) too; and without `$schema`, draft 4's
 * boolean `exclusiveMaximum`/`exclusiveMinimum` (gojsonschema's hybrid reads both forms) become draft 6's number.
 */
export function forAjv(schema: unknown, draft: GoDraft, depth = 0): unknown {
  if (!isObject(schema) || depth > 256) return schema;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(schema)) {
    if (draft === 4 && SINCE_DRAFT_6.includes(key)) continue;
    if ((draft === 4 || draft === 6) && SINCE_DRAFT_7.includes(key)) continue;
    if (key === 'enum' && Array.isArray(value) && value.length === 0) continue;
    if (SCHEMA_MAPS.includes(key) && isObject(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, Array.isArray(sub) ? sub : forAjv(sub, draft, depth + 1)]));
    } else if (SCHEMA_LISTS.includes(key) && Array.isArray(value)) {
      out[key] = value.map((sub) => forAjv(sub, draft, depth + 1));
    } else if (SCHEMAS.includes(key)) {
      out[key] = forAjv(value, draft, depth + 1);
    } else {
      out[key] = value;
    }
  }
  if (draft === 'hybrid') {
    for (const [exclusive, bound] of [['exclusiveMaximum', 'maximum'], ['exclusiveMinimum', 'minimum']] as const) {
      if (typeof out[exclusive] !== 'boolean') continue;
      if (out[exclusive] === true && typeof out[bound] === 'number') {
        out[exclusive] = out[bound];
        delete out[bound];
      } else {
        delete out[exclusive];
      }
    }
  }
  return out;
}
