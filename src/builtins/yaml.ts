// yaml.*: sigs.k8s.io/yaml (YAML 1.1 via go-yaml v2, through JSON) as closely as the `yaml` library allows.
import { parseAllDocuments, stringify } from 'yaml';
import { fail, stringArg, type BuiltinTable } from './builtin.js';

/** The first document, as JSON (YAMLToJSON): keys become strings, YAML 1.1 booleans (yes/no/on/off) apply, a repeated key's last value wins. */
function yamlToValue(text: string): unknown {
  const documents = parseAllDocuments(text, { version: '1.1', uniqueKeys: false, merge: true });
  const list = Array.isArray(documents) ? documents : [documents];
  const first = list[0];
  if (first === undefined) return null;
  if (first.errors.length > 0) fail(`yaml: ${first.errors[0]!.message}`);
  const value = first.toJS({ maxAliasCount: 1000, mapAsMap: false }) as unknown;
  return toJsonValue(value);
}

function toJsonValue(value: unknown): unknown {
  if (value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (value instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of value) out[String(key)] = toJsonValue(item);
    return out;
  }
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = toJsonValue(item);
    return out;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) fail('yaml: infinity and NaN have no JSON form');
  if (typeof value === 'bigint') return value;
  return value;
}

export const yamlBuiltins: BuiltinTable = {
  'yaml.unmarshal': (_evaluation, value) => yamlToValue(stringArg(value, 1)),
  'yaml.is_valid': (_evaluation, value) => {
    if (typeof value !== 'string') return false;
    try {
      yamlToValue(value);
      return true;
    } catch {
      return false;
    }
  },
  // go-yaml v2's layout: sorted keys, sequences not indented under their key, YAML 1.1 ambiguities quoted.
  'yaml.marshal': (_evaluation, value) =>
    stringify(value, { version: '1.1', sortMapEntries: true, indentSeq: false, lineWidth: 0, defaultStringType: 'PLAIN', defaultKeyType: 'PLAIN', doubleQuotedAsJSON: true }),
};
