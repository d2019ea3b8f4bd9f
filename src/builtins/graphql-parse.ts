// GraphQL text → gqlparser's AST nodes (graphql-model.ts): parsed by graphql-js, shaped as gqlparser's parser
// shapes them, comments attached where gqlparser attaches them.
import {
  Kind,
  Lexer,
  Source,
  TokenKind,
  type ConstDirectiveNode,
  type DefinitionNode,
  type DirectiveNode,
  type DocumentNode,
  type FieldDefinitionNode,
  type InputValueDefinitionNode,
  type Location,
  type SelectionNode,
  type StringValueNode,
  type Token,
  type TypeNode,
  type ValueNode,
  type VariableDefinitionNode,
  type EnumValueDefinitionNode,
  type OperationTypeDefinitionNode,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
} from 'graphql';
import { fail } from './builtin.js';
import { GqlparserGrammarParser } from './graphql-parser.js';
import { VALUE_KIND, commentGroup, type GoNode } from './graphql-model.js';

/**
 * Bounds on what a document may make us do. gqlparser has none (Go's stack grows to 1 GB); ours keep parsing,
 * conversion and validation within a fixed stack and linear time: a deeper or longer document is a builtin
 * error (undefined, or false where OPA answers false).
 */
export const GRAPHQL_LIMITS = Object.freeze({
  /** Brackets ({, [, () open at once. */
  maxNesting: 128,
  /**
   * graphql-js lexical tokens (comments not included). A call runs synchronously inside wasm, where no
   * deadline can stop it: at 2–6 µs a token (test/bench/graphql-bench.mjs; some 20 on a loaded machine) this
   * keeps one call within about 120 ms (400 under load), far above any real query (an introspection query is
   * some 300 tokens).
   */
  maxTokens: 20_000,
  /** Comments (each one may be in the result). */
  maxComments: 10_000,
});

/**
 * Reads the source once, without recursion, for what graphql-js's lexer would let through or read otherwise
 * than gqlparser's: brackets nested beyond the limit, a control character (gqlparser refuses one anywhere but
 * tab, CR and LF, even in comments and block strings), a braced `\\u{…}` escape (gqlparser knows only four hex
 * digits). A surrogate escape (`\\uD83D`) becomes `\\uFFFD`, each on its own, as gqlparser decodes it (Go's
 * string(rune) of a surrogate), where graphql-js would join a pair or refuse a lone one; the text keeps its length.
 */
function scanSource(text: string): string {
  let depth = 0;
  const surrogates: number[] = [];
  const control = (i: number): boolean => {
    const c = text.charCodeAt(i);
    return c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d;
  };
  for (let i = 0; i < text.length; i++) {
    if (control(i)) fail('GraphQL parse error: invalid character');
    const c = text.charCodeAt(i);
    if (c === 0x23 /* # */) {
      while (i + 1 < text.length && text.charCodeAt(i + 1) !== 0x0a && text.charCodeAt(i + 1) !== 0x0d) {
        i++;
        if (control(i)) fail('GraphQL parse error: invalid character');
      }
    } else if (c === 0x22 /* " */ && text.startsWith('"""', i)) {
      i += 3;
      while (i < text.length && !text.startsWith('"""', i)) {
        if (control(i)) fail('GraphQL parse error: invalid character');
        i += text.startsWith('\\"""', i) ? 4 : 1;
      }
      i += 2;
    } else if (c === 0x22) {
      i++;
      while (i < text.length && text.charCodeAt(i) !== 0x22 && text.charCodeAt(i) !== 0x0a && text.charCodeAt(i) !== 0x0d) {
        if (control(i)) fail('GraphQL parse error: invalid character');
        if (text.charCodeAt(i) === 0x5c /* \ */) {
          if (text.startsWith('\\u{', i)) fail('GraphQL parse error: invalid character escape sequence');
          if (text.charCodeAt(i + 1) === 0x75 /* u */ && /^[dD][89a-fA-F][0-9a-fA-F]{2}$/.test(text.slice(i + 2, i + 6))) {
            surrogates.push(i);
          }
          i += 2;
        } else {
          i++;
        }
      }
    } else if (c === 0x7b || c === 0x5b || c === 0x28) {
      if (++depth > GRAPHQL_LIMITS.maxNesting) fail(`GraphQL document nested deeper than ${GRAPHQL_LIMITS.maxNesting}`);
    } else if (c === 0x7d || c === 0x5d || c === 0x29) {
      depth--;
    }
  }
  if (surrogates.length === 0) return text;
  const parts: string[] = [];
  let from = 0;
  for (const at of surrogates) {
    parts.push(text.slice(from, at), '\\uFFFD');
    from = at + 6;
  }
  parts.push(text.slice(from));
  return parts.join('');
}

/** A document of nothing but ignored tokens and comments: empty for gqlparser, an error for graphql-js. */
function emptyDocumentEnd(text: string): Token | undefined {
  try {
    const token = new Lexer(new Source(text)).lookahead();
    return token.kind === TokenKind.EOF ? token : undefined;
  } catch {
    return undefined;
  }
}

function parseDocument(source: string): DocumentNode {
  const text = scanSource(source);
  const empty = emptyDocumentEnd(text);
  if (empty !== undefined) return { kind: Kind.DOCUMENT, definitions: [], loc: { startToken: empty, endToken: empty } as Location };
  try {
    return new GqlparserGrammarParser(text, {
      maxLexicalTokens: GRAPHQL_LIMITS.maxTokens,
      maxComments: GRAPHQL_LIMITS.maxComments,
      allowLegacyFragmentVariables: true,
    }).parseDocument();
  } catch (error) {
    fail(`GraphQL parse error: ${(error as Error).message}`);
  }
}

/** The comments right before a token, gqlparser's p.comment when it peeks that token: '#' and the text. */
function commentsBefore(token: Token | undefined): GoNode | null {
  const texts: string[] = [];
  for (let t = token?.prev ?? null; t !== null && t.kind === TokenKind.COMMENT; t = t.prev) texts.push(`#${t.value}`);
  return commentGroup(texts.reverse());
}

function startOf(loc: Location | undefined): Token | undefined {
  return loc?.startToken;
}

/** The first token after `token` that is not a comment. */
function nextToken(token: Token | undefined): Token | undefined {
  let t = token?.next ?? null;
  while (t !== null && t.kind === TokenKind.COMMENT) t = t.next;
  return t ?? undefined;
}

/** Comments before a definition's closing brace (gqlparser's EndOfDefinitionComment), when it has braces. */
function commentsBeforeClosingBrace(loc: Location | undefined, hasBlock: boolean): GoNode | null {
  if (!hasBlock || loc === undefined || loc.endToken.kind !== TokenKind.BRACE_R) return null;
  return commentsBefore(loc.endToken);
}

// ---------- executable documents (ParseQuery) ----------

/** parser.ParseQuery: only operations and fragments. */
export function parseQueryText(text: string): GoNode {
  const document = parseDocument(text);
  const operations: GoNode[] = [];
  const fragments: GoNode[] = [];
  for (const definition of document.definitions) {
    // graphql-js reads descriptions on operations, fragments and variables (a newer spec); gqlparser does not.
    if (hasDescription(definition)) fail('GraphQL parse error: unexpected description');
    if (definition.kind === Kind.OPERATION_DEFINITION) operations.push(operationNode(definition));
    else if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.push(fragmentDefinitionNode(definition));
    else fail(`GraphQL parse error: unexpected ${definition.kind} in a query`);
  }
  return { Operations: nullIfEmpty(operations), Fragments: nullIfEmpty(fragments), Comment: null };
}

function hasDescription(definition: DefinitionNode): boolean {
  if (definition.kind !== Kind.OPERATION_DEFINITION && definition.kind !== Kind.FRAGMENT_DEFINITION) return false;
  if (definition.description !== undefined) return true;
  return (definition.variableDefinitions ?? []).some((variable) => variable.description !== undefined);
}

function nullIfEmpty<T>(list: readonly T[] | undefined): T[] | null {
  return list === undefined || list.length === 0 ? null : [...list];
}

function operationNode(node: OperationDefinitionNode): GoNode {
  return {
    Operation: node.operation,
    Name: node.name?.value ?? '',
    VariableDefinitions: nullIfEmpty(node.variableDefinitions?.map(variableDefinitionNode)),
    Directives: directivesNode(node.directives),
    SelectionSet: selectionSetNode(node.selectionSet.selections),
    // gqlparser reads p.comment for a `{ … }` shorthand only after parsing its selections, when it is nil.
    Comment: startOf(node.loc)?.kind === TokenKind.BRACE_L ? null : commentsBefore(startOf(node.loc)),
  };
}

function fragmentDefinitionNode(node: FragmentDefinitionNode): GoNode {
  return {
    Name: node.name.value,
    VariableDefinition: nullIfEmpty(node.variableDefinitions?.map(variableDefinitionNode)),
    TypeCondition: node.typeCondition.name.value,
    Directives: directivesNode(node.directives),
    SelectionSet: selectionSetNode(node.selectionSet.selections),
    Definition: null,
    Comment: commentsBefore(startOf(node.loc)),
  };
}

function variableDefinitionNode(node: VariableDefinitionNode): GoNode {
  return {
    Variable: node.variable.name.value,
    Type: typeNode(node.type),
    DefaultValue: node.defaultValue === undefined ? null : valueNode(node.defaultValue),
    Directives: directivesNode(node.directives),
    Comment: commentsBefore(startOf(node.loc)),
    Definition: null,
    Used: false,
  };
}

function selectionSetNode(selections: readonly SelectionNode[] | undefined): GoNode[] | null {
  return nullIfEmpty(selections?.map(selectionNode));
}

function selectionNode(node: SelectionNode): GoNode {
  const comment = commentsBefore(startOf(node.loc));
  switch (node.kind) {
    case Kind.FIELD:
      return {
        Alias: node.alias?.value ?? node.name.value,
        Name: node.name.value,
        Arguments: nullIfEmpty(
          node.arguments?.map((argument) => ({
            Name: argument.name.value,
            Value: valueNode(argument.value),
            Comment: commentsBefore(startOf(argument.loc)),
          })),
        ),
        Directives: directivesNode(node.directives),
        SelectionSet: selectionSetNode(node.selectionSet?.selections),
        Comment: comment,
        Definition: null,
        ObjectDefinition: null,
      };
    case Kind.FRAGMENT_SPREAD:
      return { Name: node.name.value, Directives: directivesNode(node.directives), ObjectDefinition: null, Definition: null, Comment: comment };
    case Kind.INLINE_FRAGMENT:
      return {
        TypeCondition: node.typeCondition?.name.value ?? '',
        Directives: directivesNode(node.directives),
        SelectionSet: selectionSetNode(node.selectionSet.selections),
        ObjectDefinition: null,
        Comment: comment,
      };
  }
}

function directivesNode(directives: readonly (DirectiveNode | ConstDirectiveNode)[] | undefined): GoNode[] | null {
  return nullIfEmpty(
    directives?.map((directive) => ({
      Name: directive.name.value,
      Arguments: nullIfEmpty(
        directive.arguments?.map((argument) => ({
          Name: argument.name.value,
          Value: valueNode(argument.value),
          Comment: commentsBefore(startOf(argument.loc)),
        })),
      ),
      ParentDefinition: null,
      Definition: null,
      Location: '',
    })),
  );
}

function typeNode(node: TypeNode): GoNode {
  // gqlparser folds `!` into the type it follows: NonNull is a flag, not a wrapper.
  if (node.kind === Kind.NON_NULL_TYPE) return { ...typeNode(node.type), NonNull: true };
  if (node.kind === Kind.LIST_TYPE) return { NamedType: '', Elem: typeNode(node.type), NonNull: false };
  return { NamedType: node.name.value, Elem: null, NonNull: false };
}

function scalarValue(raw: string, kind: number): GoNode {
  // A scalar's Comment is read after its token is consumed, when gqlparser has already let the comment go.
  return { Raw: raw, Children: null, Kind: kind, Comment: null, Definition: null, VariableDefinition: null, ExpectedType: null, ExpectedTypeHasDefault: false };
}

function valueNode(node: ValueNode): GoNode {
  switch (node.kind) {
    case Kind.VARIABLE:
      return scalarValue(node.name.value, VALUE_KIND.Variable);
    case Kind.INT:
      return scalarValue(node.value, VALUE_KIND.IntValue);
    case Kind.FLOAT:
      return scalarValue(node.value, VALUE_KIND.FloatValue);
    case Kind.STRING:
      return scalarValue(node.value, node.block === true ? VALUE_KIND.BlockValue : VALUE_KIND.StringValue);
    case Kind.BOOLEAN:
      return scalarValue(node.value ? 'true' : 'false', VALUE_KIND.BooleanValue);
    case Kind.NULL:
      return scalarValue('null', VALUE_KIND.NullValue);
    case Kind.ENUM:
      return scalarValue(node.value, VALUE_KIND.EnumValue);
    case Kind.LIST:
      return {
        ...scalarValue('', VALUE_KIND.ListValue),
        Children: nullIfEmpty(node.values.map((value) => ({ Name: '', Value: valueNode(value), Comment: null }))),
        Comment: commentsBefore(startOf(node.loc)),
      };
    case Kind.OBJECT:
      return {
        ...scalarValue('', VALUE_KIND.ObjectValue),
        Children: nullIfEmpty(
          node.fields.map((field) => ({ Name: field.name.value, Value: valueNode(field.value), Comment: commentsBefore(startOf(field.loc)) })),
        ),
        Comment: commentsBefore(startOf(node.loc)),
      };
  }
}

// ---------- type system documents (ParseSchema) ----------

const TYPE_KINDS: Readonly<Record<string, string>> = {
  [Kind.SCALAR_TYPE_DEFINITION]: 'SCALAR',
  [Kind.OBJECT_TYPE_DEFINITION]: 'OBJECT',
  [Kind.INTERFACE_TYPE_DEFINITION]: 'INTERFACE',
  [Kind.UNION_TYPE_DEFINITION]: 'UNION',
  [Kind.ENUM_TYPE_DEFINITION]: 'ENUM',
  [Kind.INPUT_OBJECT_TYPE_DEFINITION]: 'INPUT_OBJECT',
  [Kind.SCALAR_TYPE_EXTENSION]: 'SCALAR',
  [Kind.OBJECT_TYPE_EXTENSION]: 'OBJECT',
  [Kind.INTERFACE_TYPE_EXTENSION]: 'INTERFACE',
  [Kind.UNION_TYPE_EXTENSION]: 'UNION',
  [Kind.ENUM_TYPE_EXTENSION]: 'ENUM',
  [Kind.INPUT_OBJECT_TYPE_EXTENSION]: 'INPUT_OBJECT',
};

/** parser.ParseSchema: only type system definitions and extensions; `builtIn` marks the prelude's. */
export function parseSchemaText(text: string, builtIn = false): GoNode {
  const document = parseDocument(text);
  const schema: GoNode[] = [];
  const schemaExtensions: GoNode[] = [];
  const directives: GoNode[] = [];
  const definitions: GoNode[] = [];
  const extensions: GoNode[] = [];
  for (const definition of document.definitions) {
    switch (definition.kind) {
      case Kind.SCHEMA_DEFINITION:
        schema.push(schemaDefinitionNode(definition, definition.description, definition.operationTypes));
        break;
      case Kind.SCHEMA_EXTENSION:
        schemaExtensions.push(schemaDefinitionNode(definition, undefined, definition.operationTypes ?? []));
        break;
      case Kind.DIRECTIVE_DEFINITION:
        directives.push({
          Description: definition.description?.value ?? '',
          Name: definition.name.value,
          Arguments: nullIfEmpty(definition.arguments?.map(inputValueNode)),
          Locations: definition.locations.map((location) => location.value),
          IsRepeatable: definition.repeatable,
          ...descriptionComments(definition, definition.description),
        });
        break;
      default:
        if (!(definition.kind in TYPE_KINDS)) fail(`GraphQL parse error: unexpected ${definition.kind} in a schema`);
        (definition.kind.endsWith('Extension') ? extensions : definitions).push({ ...typeDefinitionNode(definition), BuiltIn: builtIn });
    }
  }
  return {
    Schema: nullIfEmpty(schema),
    SchemaExtension: nullIfEmpty(schemaExtensions),
    Directives: nullIfEmpty(directives),
    Definitions: nullIfEmpty(definitions),
    Extensions: nullIfEmpty(extensions),
    Comment: commentsBefore(lastToken(document)),
  };
}

function lastToken(document: DocumentNode): Token | undefined {
  let token = document.loc?.endToken;
  while (token !== undefined && token.next !== null) token = token.next;
  return token;
}

/**
 * Before/AfterDescriptionComment of a top-level definition: the comments before its description, and those
 * before its keyword (`type`, `extend`, `schema`, `directive`).
 */
function descriptionComments(definition: DefinitionNode, description: StringValueNode | undefined): GoNode {
  const start = startOf(definition.loc);
  if (description === undefined) return { BeforeDescriptionComment: null, AfterDescriptionComment: commentsBefore(start) };
  return { BeforeDescriptionComment: commentsBefore(start), AfterDescriptionComment: commentsBefore(nextToken(startOf(description.loc))) };
}

function schemaDefinitionNode(
  definition: DefinitionNode & { directives?: readonly ConstDirectiveNode[] },
  description: StringValueNode | undefined,
  operationTypes: readonly OperationTypeDefinitionNode[],
): GoNode {
  return {
    Description: description?.value ?? '',
    Directives: directivesNode(definition.directives),
    OperationTypes: nullIfEmpty(
      operationTypes.map((operationType) => ({
        Operation: operationType.operation,
        Type: operationType.type.name.value,
        Comment: commentsBefore(startOf(operationType.loc)),
      })),
    ),
    ...descriptionComments(definition, description),
    EndOfDefinitionComment: commentsBeforeClosingBrace(definition.loc, operationTypes.length > 0),
  };
}

type TypeSystemNode = DefinitionNode & {
  description?: StringValueNode;
  name: { value: string };
  directives?: readonly ConstDirectiveNode[];
  interfaces?: readonly { name: { value: string } }[];
  fields?: readonly (FieldDefinitionNode | InputValueDefinitionNode)[];
  types?: readonly { name: { value: string } }[];
  values?: readonly EnumValueDefinitionNode[];
};

function typeDefinitionNode(definition: DefinitionNode): GoNode {
  const node = definition as TypeSystemNode;
  const kind = TYPE_KINDS[definition.kind]!;
  const fields = node.fields ?? [];
  const values = node.values ?? [];
  return {
    Kind: kind,
    Description: node.description?.value ?? '',
    Name: node.name.value,
    Directives: directivesNode(node.directives),
    Interfaces: nullIfEmpty(node.interfaces?.map((item) => item.name.value)),
    Fields: nullIfEmpty(fields.map((field) => (field.kind === Kind.FIELD_DEFINITION ? fieldDefinitionNode(field) : inputFieldNode(field)))),
    Types: nullIfEmpty(node.types?.map((item) => item.name.value)),
    EnumValues: nullIfEmpty(
      values.map((value) => ({
        Description: value.description?.value ?? '',
        Name: value.name.value,
        Directives: directivesNode(value.directives),
        ...memberComments(value.loc, value.name.loc, value.description),
      })),
    ),
    BuiltIn: false,
    ...descriptionComments(definition, node.description),
    EndOfDefinitionComment: commentsBeforeClosingBrace(definition.loc, fields.length > 0 || values.length > 0),
  };
}

/** A field's, argument's or enum value's comments: before a (non-empty) description, and before its name. */
function memberComments(loc: Location | undefined, nameLoc: Location | undefined, description: StringValueNode | undefined): GoNode {
  return {
    BeforeDescriptionComment: description !== undefined && description.value !== '' ? commentsBefore(startOf(loc)) : null,
    AfterDescriptionComment: commentsBefore(startOf(nameLoc)),
  };
}

function fieldDefinitionNode(field: FieldDefinitionNode): GoNode {
  return {
    Description: field.description?.value ?? '',
    Name: field.name.value,
    Arguments: nullIfEmpty(field.arguments?.map(inputValueNode)),
    DefaultValue: null,
    Type: typeNode(field.type),
    Directives: directivesNode(field.directives),
    ...memberComments(field.loc, field.name.loc, field.description),
  };
}

/** An input object's field: a FieldDefinition with a default value and no arguments. */
function inputFieldNode(field: InputValueDefinitionNode): GoNode {
  return { ...inputValueNode(field), Arguments: null };
}

function inputValueNode(argument: InputValueDefinitionNode): GoNode {
  return {
    Description: argument.description?.value ?? '',
    Name: argument.name.value,
    DefaultValue: argument.defaultValue === undefined ? null : valueNode(argument.defaultValue),
    Type: typeNode(argument.type),
    Directives: directivesNode(argument.directives),
    ...memberComments(argument.loc, argument.name.loc, argument.description),
  };
}
