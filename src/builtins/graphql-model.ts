// gqlparser's (Go) AST as OPA sees it: each node an object keyed by the Go struct's field names, and OPA's pruning.
//
// OPA turns gqlparser's structs into Rego values through encoding/json (ast.InterfaceToValue), so a node is
// an object of every exported field of its struct (Position is `json:"-"`), nil pointers and slices are
// null, and then pruneIrrelevantGraphQLASTNodes drops nulls, empty arrays and objects and any "Position".
// The nodes here carry every field, as Go would marshal them, so the same pruning gives OPA's value.

export type GoNode = { [field: string]: unknown };

/** gqlparser's ast.ValueKind, in its order. */
export const VALUE_KIND = Object.freeze({
  Variable: 0,
  IntValue: 1,
  FloatValue: 2,
  StringValue: 3,
  BlockValue: 4,
  BooleanValue: 5,
  NullValue: 6,
  EnumValue: 7,
  ListValue: 8,
  ObjectValue: 9,
});

/** An ast.CommentGroup of comment texts (each with its '#'), or null for none. */
export function commentGroup(texts: readonly string[]): GoNode | null {
  if (texts.length === 0) return null;
  return { List: texts.map((text) => ({ Value: text, Position: null })) };
}

/**
 * pruneIrrelevantGraphQLASTNodes: without "Position", nulls, and arrays or objects that are empty once pruned
 * (in arrays too). Recursion is bounded by the nesting limit the parsers enforce.
 */
export function pruneGoNode(value: unknown): unknown {
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const element of value) {
      const pruned = pruneElement(element);
      if (pruned !== undefined) out.push(pruned);
    }
    return out;
  }
  if (typeof value === 'object' && value !== null) {
    const out: GoNode = {};
    for (const [key, element] of Object.entries(value as GoNode)) {
      if (key === 'Position') continue;
      const pruned = pruneElement(element);
      if (pruned !== undefined) out[key] = pruned;
    }
    return out;
  }
  return value;
}

function pruneElement(element: unknown): unknown {
  if (element === null || element === undefined) return undefined;
  if (typeof element !== 'object') return element;
  const pruned = pruneGoNode(element);
  if (Array.isArray(pruned)) return pruned.length > 0 ? pruned : undefined;
  return Object.keys(pruned as GoNode).length > 0 ? pruned : undefined;
}

/** ast.Type.Name(): the named type under any list wrappers ("" for a malformed one decoded from an object). */
export function namedTypeOf(type: unknown): string {
  let current = type as GoNode | null;
  while (current !== null && typeof current === 'object') {
    if (typeof current.NamedType === 'string' && current.NamedType !== '') return current.NamedType;
    current = (current.Elem ?? null) as GoNode | null;
  }
  return '';
}

export function listOf(value: unknown): GoNode[] {
  return Array.isArray(value) ? (value as GoNode[]) : [];
}

export function stringsOf(value: unknown): string[] {
  return Array.isArray(value) ? (value as string[]) : [];
}
