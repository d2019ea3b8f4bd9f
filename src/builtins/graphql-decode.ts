// A GraphQL AST given as an object → gqlparser's nodes, decoded as Go's encoding/json decodes it into
// gqlparser's structs (OPA's objectToQueryDocument / objectToSchemaDocument).
//
// Go's rules, kept here: keys match field names case-insensitively (in the sorted order Go marshalled them, the
// last one wins), except in the four structs with their own UnmarshalJSON (OperationDefinition, Field,
// FragmentDefinition, InlineFragment), which take exact keys only and never read Comment; unknown keys are
// ignored; null leaves a field at its zero value; a wrong type is an error; `json:"-"` fields (Position,
// TypePositions) are never read, except by the four custom decoders; a selection is tried as a Field, then a
// FragmentSpread, then an InlineFragment, and dropped when none decodes.
import { fail, isObject } from './builtin.js';
import type { GoNode } from './graphql-model.js';

type FieldType =
  | 'string'
  | 'bool'
  | 'int'
  | 'strings'
  | 'selections'
  | { readonly pointer: string }
  | { readonly list: string };

interface StructSpec {
  /** Field → its Go type, in the struct's order. */
  readonly fields: Readonly<Record<string, FieldType>>;
  /** A custom UnmarshalJSON: exact keys, Position read (and only checked: it never reaches a result). */
  readonly exact?: boolean;
}

const comment = { pointer: 'CommentGroup' } as const;
const directives = { list: 'Directive' } as const;

const STRUCTS = {
  QueryDocument: { fields: { Operations: { list: 'OperationDefinition' }, Fragments: { list: 'FragmentDefinition' }, Comment: comment } },
  SchemaDocument: {
    fields: {
      Schema: { list: 'SchemaDefinition' },
      SchemaExtension: { list: 'SchemaDefinition' },
      Directives: { list: 'DirectiveDefinition' },
      Definitions: { list: 'Definition' },
      Extensions: { list: 'Definition' },
      Comment: comment,
    },
  },
  OperationDefinition: {
    exact: true,
    fields: { Operation: 'string', Name: 'string', VariableDefinitions: { list: 'VariableDefinition' }, Directives: directives, SelectionSet: 'selections' },
  },
  Field: {
    exact: true,
    fields: {
      Alias: 'string',
      Name: 'string',
      Arguments: { list: 'Argument' },
      Directives: directives,
      SelectionSet: 'selections',
      Definition: { pointer: 'FieldDefinition' },
      ObjectDefinition: { pointer: 'Definition' },
    },
  },
  FragmentDefinition: {
    exact: true,
    fields: {
      Name: 'string',
      VariableDefinition: { list: 'VariableDefinition' },
      TypeCondition: 'string',
      Directives: directives,
      SelectionSet: 'selections',
      Definition: { pointer: 'Definition' },
    },
  },
  InlineFragment: {
    exact: true,
    fields: { TypeCondition: 'string', Directives: directives, SelectionSet: 'selections', ObjectDefinition: { pointer: 'Definition' } },
  },
  FragmentSpread: {
    fields: { Name: 'string', Directives: directives, ObjectDefinition: { pointer: 'Definition' }, Definition: { pointer: 'FragmentDefinition' }, Comment: comment },
  },
  VariableDefinition: {
    fields: {
      Variable: 'string',
      Type: { pointer: 'Type' },
      DefaultValue: { pointer: 'Value' },
      Directives: directives,
      Comment: comment,
      Definition: { pointer: 'Definition' },
      Used: 'bool',
    },
  },
  Argument: { fields: { Name: 'string', Value: { pointer: 'Value' }, Comment: comment } },
  Directive: {
    fields: {
      Name: 'string',
      Arguments: { list: 'Argument' },
      ParentDefinition: { pointer: 'Definition' },
      Definition: { pointer: 'DirectiveDefinition' },
      Location: 'string',
    },
  },
  Value: {
    fields: {
      Raw: 'string',
      Children: { list: 'ChildValue' },
      Kind: 'int',
      Comment: comment,
      Definition: { pointer: 'Definition' },
      VariableDefinition: { pointer: 'VariableDefinition' },
      ExpectedType: { pointer: 'Type' },
      ExpectedTypeHasDefault: 'bool',
    },
  },
  ChildValue: { fields: { Name: 'string', Value: { pointer: 'Value' }, Comment: comment } },
  Type: { fields: { NamedType: 'string', Elem: { pointer: 'Type' }, NonNull: 'bool' } },
  Definition: {
    fields: {
      Kind: 'string',
      Description: 'string',
      Name: 'string',
      Directives: directives,
      Interfaces: 'strings',
      Fields: { list: 'FieldDefinition' },
      Types: 'strings',
      EnumValues: { list: 'EnumValueDefinition' },
      BuiltIn: 'bool',
      BeforeDescriptionComment: comment,
      AfterDescriptionComment: comment,
      EndOfDefinitionComment: comment,
    },
  },
  FieldDefinition: {
    fields: {
      Description: 'string',
      Name: 'string',
      Arguments: { list: 'ArgumentDefinition' },
      DefaultValue: { pointer: 'Value' },
      Type: { pointer: 'Type' },
      Directives: directives,
      BeforeDescriptionComment: comment,
      AfterDescriptionComment: comment,
    },
  },
  ArgumentDefinition: {
    fields: {
      Description: 'string',
      Name: 'string',
      DefaultValue: { pointer: 'Value' },
      Type: { pointer: 'Type' },
      Directives: directives,
      BeforeDescriptionComment: comment,
      AfterDescriptionComment: comment,
    },
  },
  EnumValueDefinition: {
    fields: { Description: 'string', Name: 'string', Directives: directives, BeforeDescriptionComment: comment, AfterDescriptionComment: comment },
  },
  DirectiveDefinition: {
    fields: {
      Description: 'string',
      Name: 'string',
      Arguments: { list: 'ArgumentDefinition' },
      Locations: 'strings',
      IsRepeatable: 'bool',
      BeforeDescriptionComment: comment,
      AfterDescriptionComment: comment,
    },
  },
  SchemaDefinition: {
    fields: {
      Description: 'string',
      Directives: directives,
      OperationTypes: { list: 'OperationTypeDefinition' },
      BeforeDescriptionComment: comment,
      AfterDescriptionComment: comment,
      EndOfDefinitionComment: comment,
    },
  },
  OperationTypeDefinition: { fields: { Operation: 'string', Type: 'string', Comment: comment } },
  CommentGroup: { fields: { List: { list: 'Comment' } } },
  Comment: { fields: { Value: 'string', Position: { pointer: 'Position' } } },
  Position: { fields: { Start: 'int', End: 'int', Line: 'int', Column: 'int', Src: { pointer: 'Source' } } },
  Source: { fields: { Name: 'string', Input: 'string', BuiltIn: 'bool' } },
} as const satisfies Record<string, StructSpec>;

type StructName = string;

class GoDecodeError extends Error {}

/** objectToQueryDocument. */
export function decodeQueryDocument(value: unknown): GoNode {
  return decodeTopLevel(value, 'QueryDocument');
}

/** objectToSchemaDocument. */
export function decodeSchemaDocument(value: unknown): GoNode {
  return decodeTopLevel(value, 'SchemaDocument');
}

function decodeTopLevel(value: unknown, structName: StructName): GoNode {
  try {
    return decodeStruct(value, structName) ?? {};
  } catch (error) {
    if (error instanceof GoDecodeError) fail(`json: ${error.message}`);
    throw error;
  }
}

/** Go's bytes.EqualFold for an ASCII field name: also the Kelvin sign for k and the long s for s. */
function foldMatches(key: string, field: string): boolean {
  const runes = [...key];
  if (runes.length !== field.length) return false;
  return runes.every((rune, i) => {
    const want = field[i]!.toLowerCase();
    if (rune.toLowerCase() === want && rune.length === 1 && rune.charCodeAt(0) < 0x80) return true;
    return (rune === '\u212a' && want === 'k') || (rune === '\u017f' && want === 's');
  });
}

// How deep an object argument may nest (in structs); a deeper one is a builtin error, never a stack overflow.
const MAX_STRUCT_DEPTH = 512;
let depth = 0;

function decodeStruct(value: unknown, structName: StructName): GoNode | null {
  if (depth >= MAX_STRUCT_DEPTH) fail(`GraphQL AST object nested deeper than ${MAX_STRUCT_DEPTH}`);
  depth++;
  try {
    return decodeStructAt(value, structName);
  } finally {
    depth--;
  }
}

function decodeStructAt(value: unknown, structName: StructName): GoNode | null {
  if (value === null) return null;
  if (!isObject(value)) throw new GoDecodeError(`cannot unmarshal into Go value of type ast.${structName}`);
  const spec: StructSpec | undefined = (STRUCTS as Readonly<Record<string, StructSpec>>)[structName];
  if (spec === undefined) throw new Error(`no struct ${structName}`);
  const node: GoNode = {};
  for (const [field, type] of Object.entries(spec.fields)) {
    if (type === 'string') node[field] = '';
    else if (type === 'bool') node[field] = false;
    else if (type === 'int') node[field] = 0;
  }
  const fieldNames = Object.keys(spec.fields);
  const keys = Object.keys(value).sort();
  for (const key of keys) {
    if (spec.exact === true && key === 'Position') {
      decodeStruct(value[key], 'Position');
      continue;
    }
    const field = spec.exact === true ? fieldNames.find((name) => name === key) : (fieldNames.find((name) => name === key) ?? fieldNames.find((name) => foldMatches(key, name)));
    if (field === undefined) continue;
    const decoded = decodeField(value[key], spec.fields[field]!);
    if (decoded !== undefined) node[field] = decoded;
  }
  return node;
}

/** A field's value; undefined leaves the field as it was (null into a string, bool or int). */
function decodeField(value: unknown, type: FieldType): unknown {
  if (type === 'string' || type === 'bool' || type === 'int') {
    if (value === null) return undefined;
    const ok = type === 'string' ? typeof value === 'string' : type === 'bool' ? typeof value === 'boolean' : Number.isSafeInteger(value);
    if (!ok) throw new GoDecodeError(`cannot unmarshal ${typeof value} into a Go ${type}`);
    return value;
  }
  if (value === null) return null;
  if (type === 'strings') {
    if (!Array.isArray(value)) throw new GoDecodeError('cannot unmarshal into []string');
    return value.map((item) => {
      if (item === null) return '';
      if (typeof item !== 'string') throw new GoDecodeError('cannot unmarshal into string');
      return item;
    });
  }
  if (type === 'selections') return decodeSelections(value);
  if ('pointer' in type) return decodeStruct(value, type.pointer);
  if (!Array.isArray(value)) throw new GoDecodeError(`cannot unmarshal into []*ast.${type.list}`);
  return value.map((item) => decodeStruct(item, type.list));
}

/** ast.UnmarshalSelectionSet. */
function decodeSelections(value: unknown): GoNode[] {
  if (!Array.isArray(value)) throw new GoDecodeError('cannot unmarshal into []json.RawMessage');
  const selections: GoNode[] = [];
  for (const item of value) {
    for (const structName of ['Field', 'FragmentSpread', 'InlineFragment'] as const) {
      try {
        // A null item makes an empty Field (Go unmarshals null into a nil map without error).
        selections.push(item === null && structName === 'Field' ? (decodeStruct({}, 'Field') as GoNode) : (decodeStruct(item, structName) ?? {}));
        break;
      } catch (error) {
        if (!(error instanceof GoDecodeError)) throw error;
      }
    }
  }
  return selections;
}
