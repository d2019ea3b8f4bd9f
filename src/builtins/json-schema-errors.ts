// gojsonschema's result errors ({error, type, field, desc}, OPA's internal/gojsonschema locales.go) written from
// ajv's, for the keywords whose errors the two report alike, in gojsonschema's order where ajv's differs: an
// `allOf` adds its own error after its branches' (ajv reports none); an `if`, `contains` or `propertyNames`
// reports before its subschema's errors (ajv after). `anyOf` and a failing `oneOf` stay as ajv reports them:
// gojsonschema keeps only the best-scoring branch's errors (README: a deliberate difference).
import type { ErrorObject } from 'ajv';
import { isObject } from './builtin.js';

export interface GoSchemaError {
  readonly desc: string;
  readonly error: string;
  readonly field: string;
  readonly type: string;
}

/** The JSON context gojsonschema names a field by: "(Root)", else the path's segments joined with dots. */
function fieldOf(instancePath: string): string {
  if (instancePath === '') return '(Root)';
  return instancePath
    .slice(1)
    .split('/')
    .map((segment) => segment.replaceAll('~1', '/').replaceAll('~0', '~'))
    .join('.');
}

/** The value at a JSON pointer of the document (for the type gojsonschema says it was given). */
function valueAt(document: unknown, instancePath: string): unknown {
  if (instancePath === '') return document;
  let current = document;
  for (const raw of instancePath.slice(1).split('/')) {
    const segment = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    current = Array.isArray(current) ? current[Number(segment)] : isObject(current) ? current[segment] : undefined;
  }
  return current;
}

function goTypeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** Go's fmt of a JSON value in an error (json.Marshal, HTML-safe like encoding/json). */
const jsonText = (value: unknown): string => JSON.stringify(value).replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);

function describe(error: ErrorObject, document: unknown, field: string): { type: string; desc: string } | undefined {
  const p = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return { type: 'required', desc: `${String(p['missingProperty'])} is required` };
    case 'type': {
      const expected = Array.isArray(p['type']) ? `[${(p['type'] as string[]).join(',')}]` : String(p['type']);
      return { type: 'invalid_type', desc: `Invalid type. Expected: ${expected}, given: ${goTypeOf(valueAt(document, error.instancePath))}` };
    }
    case 'minLength':
      return { type: 'string_gte', desc: `String length must be greater than or equal to ${String(p['limit'])}` };
    case 'maxLength':
      return { type: 'string_lte', desc: `String length must be less than or equal to ${String(p['limit'])}` };
    case 'minimum':
    case 'exclusiveMinimum':
      return p['comparison'] === '>'
        ? { type: 'number_gt', desc: `Must be greater than ${String(p['limit'])}` }
        : { type: 'number_gte', desc: `Must be greater than or equal to ${String(p['limit'])}` };
    case 'maximum':
    case 'exclusiveMaximum':
      return p['comparison'] === '<'
        ? { type: 'number_lt', desc: `Must be less than ${String(p['limit'])}` }
        : { type: 'number_lte', desc: `Must be less than or equal to ${String(p['limit'])}` };
    case 'multipleOf':
      return { type: 'multiple_of', desc: `Must be a multiple of ${String(p['multipleOf'])}` };
    case 'pattern':
      return { type: 'pattern', desc: `Does not match pattern '${String(p['pattern'])}'` };
    case 'format':
      return { type: 'format', desc: `Does not match format '${String(p['format'])}'` };
    case 'enum':
      return { type: 'enum', desc: `${field} must be one of the following: ${(p['allowedValues'] as unknown[]).map(jsonText).join(', ')}` };
    case 'const':
      return { type: 'const', desc: `${field} does not match: ${jsonText(p['allowedValue'])}` };
    case 'additionalProperties':
      return { type: 'additional_property_not_allowed', desc: `Additional property ${String(p['additionalProperty'])} is not allowed` };
    case 'additionalItems':
      return { type: 'array_no_additional_items', desc: 'No additional items allowed on array' };
    case 'minItems':
      return { type: 'array_min_items', desc: `Array must have at least ${String(p['limit'])} items` };
    case 'maxItems':
      return { type: 'array_max_items', desc: `Array must have at most ${String(p['limit'])} items` };
    case 'uniqueItems':
      return { type: 'unique', desc: `array items[${String(p['j'])},${String(p['i'])}] must be unique` };
    case 'minProperties':
      return { type: 'array_min_properties', desc: `Must have at least ${String(p['limit'])} properties` };
    case 'maxProperties':
      return { type: 'array_max_properties', desc: `Must have at most ${String(p['limit'])} properties` };
    case 'dependencies':
      return { type: 'missing_dependency', desc: `Has a dependency on ${String(p['missingProperty'])}` };
    case 'contains':
      return { type: 'contains', desc: 'At least one of the items must match' };
    case 'propertyNames':
      return { type: 'invalid_property_name', desc: `Property name of "${String(p['propertyName'])}" does not match` };
    case 'false schema':
      return { type: 'false', desc: 'False always fails validation' };
    case 'anyOf':
      return { type: 'number_any_of', desc: 'Must validate at least one schema (anyOf)' };
    case 'oneOf':
      return { type: 'number_one_of', desc: 'Must validate one and only one schema (oneOf)' };
    case 'allOf':
      return { type: 'number_all_of', desc: 'Must validate all the schemas (allOf)' };
    case 'not':
      return { type: 'number_not', desc: 'Must not validate the schema (not)' };
    case 'if':
      return p['failingKeyword'] === 'then'
        ? { type: 'condition_then', desc: 'Must validate "then" as "if" was valid' }
        : { type: 'condition_else', desc: 'Must validate "else" as "if" was not valid' };
    default:
      return undefined;
  }
}

/** The schema path below which an error's keyword sits (`#/properties/x/minLength` → `#/properties/x`). */
const parentPath = (schemaPath: string): string => schemaPath.slice(0, schemaPath.lastIndexOf('/'));

/** ajv's errors in gojsonschema's order, with the `allOf` errors gojsonschema adds. */
function inGoOrder(errors: readonly ErrorObject[]): ErrorObject[] {
  const out = [...errors];
  // An `if`, `contains` or `propertyNames` error goes before the errors of the subschema that failed.
  for (const error of errors.filter((candidate) => ['if', 'contains', 'propertyNames'].includes(candidate.keyword))) {
    const sub = error.keyword === 'if' ? String((error.params as Record<string, unknown>)['failingKeyword']) : error.keyword;
    const branch = `${parentPath(error.schemaPath)}/${sub}/`;
    const first = out.findIndex((other) => other.schemaPath.startsWith(branch));
    if (first < 0) continue;
    out.splice(out.indexOf(error), 1);
    out.splice(first, 0, error);
  }
  // An `allOf` with a failing branch adds its own error after its branches' errors, at the instance a branch's own
  // keyword reported (a branch that failed only deeper down gives no such instance: then none is added).
  const allOfs = new Map<string, { last: ErrorObject; instancePath?: string }>();
  for (const error of out) {
    const match = /^(.*)\/allOf\/\d+(\/.*)$/.exec(error.schemaPath);
    if (match === null) continue;
    const base = match[1]!;
    const entry = allOfs.get(base) ?? { last: error };
    entry.last = error;
    if (entry.instancePath === undefined && !match[2]!.slice(1).includes('/')) entry.instancePath = error.instancePath;
    allOfs.set(base, entry);
  }
  for (const [base, { last, instancePath }] of allOfs) {
    if (instancePath === undefined) continue;
    out.splice(out.indexOf(last) + 1, 0, { keyword: 'allOf', instancePath, schemaPath: `${base}/allOf`, params: {} });
  }
  return out;
}

/** ajv's errors as gojsonschema's; a keyword without a mapping keeps ajv's message, typed by ajv's keyword. */
export function toGoSchemaErrors(errors: readonly ErrorObject[], document: unknown): GoSchemaError[] {
  return inGoOrder(errors).map((error) => {
    const field = fieldOf(error.instancePath);
    const described = describe(error, document, field) ?? { type: error.keyword, desc: error.message ?? error.keyword };
    return { desc: described.desc, error: `${field}: ${described.desc}`, field, type: described.type };
  });
}
