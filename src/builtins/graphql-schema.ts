// A schema document made a schema as gqlparser's validator.ValidateSchemaDocument makes one (OPA's
// convertSchema: the prelude merged in first), and the graphql-js schema its queries are validated against.
import {
  GraphQLSchema,
  Kind,
  buildASTSchema,
  introspectionTypes,
  printType,
  type ConstValueNode,
  type DefinitionNode,
  type DocumentNode,
  type NameNode,
  type TypeNode,
} from 'graphql';
import { BuiltinError, fail } from './builtin.js';
import { VALUE_KIND, listOf, namedTypeOf, stringsOf, type GoNode } from './graphql-model.js';
import { parseSchemaText } from './graphql-parse.js';

/** What the query rules need: the validated types and the graphql-js schema built from them. */
export interface ValidatedSchema {
  readonly graphql: GraphQLSchema;
}

// gqlparser's prelude, validator.Prelude: the spec's scalars, directives and introspection types (the latter
// printed by graphql-js; descriptions never reach a result, OPA leaves the prelude out of every AST).
const PRELUDE_SDL = [
  'scalar Int',
  'scalar Float',
  'scalar String',
  'scalar Boolean',
  'scalar ID',
  'directive @defer(if: Boolean = true, label: String) on FRAGMENT_SPREAD | INLINE_FRAGMENT',
  'directive @include(if: Boolean!) on FIELD | FRAGMENT_SPREAD | INLINE_FRAGMENT',
  'directive @skip(if: Boolean!) on FIELD | FRAGMENT_SPREAD | INLINE_FRAGMENT',
  'directive @deprecated(reason: String = "No longer supported") on FIELD_DEFINITION | ARGUMENT_DEFINITION | INPUT_FIELD_DEFINITION | ENUM_VALUE',
  'directive @specifiedBy(url: String!) on SCALAR',
  'directive @oneOf on INPUT_OBJECT',
  ...introspectionTypes.map((type) => printType(type)),
].join('\n');

let prelude: GoNode | undefined;
function preludeDocument(): GoNode {
  prelude ??= parseSchemaText(PRELUDE_SDL, true);
  return prelude;
}

// Directives a schema may declare again (gqlparser's list of its builtins).
const REDECLARABLE_DIRECTIVES = new Set(['include', 'skip', 'deprecated', 'specifiedBy', 'defer', 'oneOf']);

interface SchemaState {
  types: Map<string, GoNode>;
  directives: Map<string, GoNode>;
  possibleTypes: Map<string, (GoNode | undefined)[]>;
  roots: { query?: GoNode; mutation?: GoNode; subscription?: GoNode };
}

function nodeList(value: unknown, what: string): GoNode[] {
  const list = listOf(value);
  // A nil element (only an object argument can hold one) is a nil dereference in gqlparser.
  if (list.some((item) => item === null || typeof item !== 'object')) fail(`GraphQL schema: a ${what} is null`);
  return list;
}

/** convertSchema: prelude + document, validated; fails with a builtin error where gqlparser returns one. */
export function validateSchemaDocument(document: GoNode): ValidatedSchema {
  const base = preludeDocument();
  const merged = (key: string, what: string): GoNode[] => [...nodeList(base[key], what), ...nodeList(document[key], what)];
  const definitions = merged('Definitions', 'definition').map((definition) => ({ ...definition }));
  const extensions = merged('Extensions', 'extension');
  const directiveDefinitions = merged('Directives', 'directive definition');
  const schemaDefinitions = merged('Schema', 'schema definition');
  const schemaExtensions = merged('SchemaExtension', 'schema extension');

  const state: SchemaState = { types: new Map(), directives: new Map(), possibleTypes: new Map(), roots: {} };
  for (const definition of definitions) {
    const name = String(definition.Name ?? '');
    if (state.types.has(name)) fail(`Cannot redeclare type ${name}.`);
    state.types.set(name, definition);
  }
  const all = [...definitions];
  for (const extension of extensions) {
    const name = String(extension.Name ?? '');
    let definition = state.types.get(name);
    if (definition === undefined) {
      definition = { Kind: extension.Kind ?? '', Name: name };
      state.types.set(name, definition);
      all.push(definition);
    }
    if (definition.Kind !== extension.Kind) fail(`Cannot extend type ${name}: it is a ${String(definition.Kind)}`);
    for (const key of ['Directives', 'Interfaces', 'Fields', 'Types', 'EnumValues']) {
      definition[key] = [...listOf(definition[key]), ...listOf(extension[key])];
    }
  }
  const addPossible = (name: string, definition: GoNode | undefined): void => {
    const list = state.possibleTypes.get(name) ?? [];
    list.push(definition);
    state.possibleTypes.set(name, list);
  };
  for (const definition of all) {
    const name = String(definition.Name ?? '');
    if (definition.Kind === 'UNION') for (const member of stringsOf(definition.Types)) addPossible(name, state.types.get(member));
    if (definition.Kind === 'OBJECT' || definition.Kind === 'INPUT_OBJECT') {
      for (const face of stringsOf(definition.Interfaces)) addPossible(face, definition);
      addPossible(name, definition);
    }
    if (definition.Kind === 'INTERFACE') for (const face of stringsOf(definition.Interfaces)) addPossible(face, definition);
  }
  for (const directive of directiveDefinitions) {
    const name = String(directive.Name ?? '');
    if (state.directives.has(name) && !REDECLARABLE_DIRECTIVES.has(name)) fail(`Cannot redeclare directive ${name}.`);
    state.directives.set(name, directive);
  }
  if (schemaDefinitions.length > 1) fail('Cannot have multiple schema entry points');
  for (const schema of [...schemaDefinitions, ...schemaExtensions]) {
    for (const entry of nodeList(schema.OperationTypes, 'operation type')) {
      const definition = state.types.get(String(entry.Type ?? ''));
      if (definition === undefined) fail(`Schema root ${String(entry.Operation)} refers to a type that does not exist`);
      if (entry.Operation === 'query') state.roots.query = definition;
      if (entry.Operation === 'mutation') state.roots.mutation = definition;
      if (entry.Operation === 'subscription') state.roots.subscription = definition;
    }
    validateDirectives(state, nodeList(schema.Directives, 'directive'), 'SCHEMA', undefined, true);
  }
  for (const definition of state.types.values()) validateDefinition(state, definition);
  for (const directive of state.directives.values()) {
    validateName(directive.Name);
    validateArguments(state, nodeList(directive.Arguments, 'argument'), directive);
  }
  if (schemaDefinitions.length === 0) {
    state.roots.query ??= state.types.get('Query');
    state.roots.mutation ??= state.types.get('Mutation');
    state.roots.subscription ??= state.types.get('Subscription');
  }
  return { graphql: buildGraphqlSchema(state) };
}

function validateName(name: unknown): void {
  if (typeof name === 'string' && name.startsWith('__')) fail(`Name "${name}" must not begin with "__"`);
}

function typeOf(node: GoNode): GoNode {
  const type = node.Type;
  if (type === null || typeof type !== 'object') fail('GraphQL schema: a type is missing');
  return type as GoNode;
}

function validateTypeReference(state: SchemaState, type: GoNode): GoNode {
  const definition = state.types.get(namedTypeOf(type));
  if (definition === undefined) fail(`Undefined type ${namedTypeOf(type)}.`);
  return definition;
}

const INPUT_KINDS = new Set(['SCALAR', 'ENUM', 'INPUT_OBJECT']);
const OUTPUT_KINDS = new Set(['SCALAR', 'OBJECT', 'INTERFACE', 'UNION', 'ENUM']);

function validateDefinition(state: SchemaState, definition: GoNode): void {
  const fields = nodeList(definition.Fields, 'field');
  const values = nodeList(definition.EnumValues, 'enum value');
  const kind = definition.Kind;
  for (const field of fields) {
    validateName(field.Name);
    validateTypeReference(state, typeOf(field));
    validateArguments(state, nodeList(field.Arguments, 'argument'), undefined);
    validateDirectives(state, nodeList(field.Directives, 'directive'), kind === 'INPUT_OBJECT' ? 'INPUT_FIELD_DEFINITION' : 'FIELD_DEFINITION', undefined, true);
  }
  for (const member of stringsOf(definition.Types)) {
    const memberDefinition = state.types.get(member);
    if (memberDefinition === undefined) fail(`Undefined type "${member}".`);
    if (memberDefinition.Kind !== 'OBJECT') fail(`union member "${member}" must be OBJECT.`);
  }
  for (const face of stringsOf(definition.Interfaces)) validateImplements(state, definition, face);
  if (kind === 'OBJECT' || kind === 'INTERFACE') {
    if (fields.length === 0) fail(`${String(kind)} ${String(definition.Name)}: must define one or more fields.`);
    for (const field of fields) {
      const type = state.types.get(namedTypeOf(field.Type));
      if (type !== undefined && !OUTPUT_KINDS.has(String(type.Kind))) fail('field must be an output type');
    }
  } else if (kind === 'ENUM') {
    if (values.length === 0) fail(`ENUM ${String(definition.Name)}: must define one or more unique enum values.`);
    for (const value of values) {
      if (value.Name === 'true' || value.Name === 'false' || value.Name === 'null') fail(`non-enum value ${String(value.Name)}`);
      validateDirectives(state, nodeList(value.Directives, 'directive'), 'ENUM_VALUE', undefined, true);
    }
  } else if (kind === 'INPUT_OBJECT') {
    if (fields.length === 0) fail(`INPUT_OBJECT ${String(definition.Name)}: must define one or more input fields.`);
    for (const field of fields) {
      const type = state.types.get(namedTypeOf(field.Type));
      if (type !== undefined && !INPUT_KINDS.has(String(type.Kind))) fail('input field must be an input type');
    }
  }
  const unique = (names: unknown[], what: string): void => {
    if (new Set(names).size !== names.length) fail(`${what} can only be defined once.`);
  };
  unique(fields.map((field) => field.Name), 'Field');
  unique(values.map((value) => value.Name), 'Enum value');
  unique(stringsOf(definition.Types), 'Union member');
  if (definition.BuiltIn !== true) validateName(definition.Name);
  validateDirectives(state, nodeList(definition.Directives, 'directive'), String(kind ?? ''), undefined, false);
}

function validateArguments(state: SchemaState, args: GoNode[], currentDirective: GoNode | undefined): void {
  for (const argument of args) {
    validateName(argument.Name);
    const definition = validateTypeReference(state, typeOf(argument));
    if (!INPUT_KINDS.has(String(definition.Kind))) fail(`argument ${String(argument.Name)} is not a valid input type`);
    validateDirectives(state, nodeList(argument.Directives, 'directive'), 'ARGUMENT_DEFINITION', currentDirective, true);
  }
}

function validateDirectives(state: SchemaState, directives: GoNode[], location: string, currentDirective: GoNode | undefined, singleLocation: boolean): void {
  const seen = new Set<unknown>();
  for (const directive of directives) {
    validateName(directive.Name);
    if (currentDirective !== undefined && directive.Name === currentDirective.Name) fail('Directive cannot refer to itself.');
    const definition = state.directives.get(String(directive.Name ?? ''));
    if (definition === undefined) fail(`Undefined directive ${String(directive.Name)}.`);
    if (singleLocation) {
      if (seen.has(directive.Name) && definition.IsRepeatable !== true) fail('The directive can only be used once at this location.');
      seen.add(directive.Name);
    }
    if (!stringsOf(definition.Locations).includes(location)) fail(`Directive ${String(directive.Name)} is not applicable on ${location}.`);
    const given = nodeList(directive.Arguments, 'argument');
    const declared = nodeList(definition.Arguments, 'argument');
    for (const argument of given) {
      if (!declared.some((d) => d.Name === argument.Name)) fail(`Undefined argument ${String(argument.Name)}.`);
    }
    for (const declaredArgument of declared) {
      if (typeOf(declaredArgument).NonNull === true && isNil(declaredArgument.DefaultValue)) {
        const argument = given.find((g) => g.Name === declaredArgument.Name);
        const value = argument?.Value as GoNode | null | undefined;
        if (argument === undefined || isNil(value) || value!.Kind === VALUE_KIND.NullValue) fail('Argument cannot be null.');
      }
    }
  }
}

function isNil(value: unknown): boolean {
  return value === null || value === undefined;
}

function validateImplements(state: SchemaState, definition: GoNode, faceName: string): void {
  const face = state.types.get(faceName);
  if (face === undefined) fail(`Undefined type "${faceName}".`);
  if (face.Kind !== 'INTERFACE') fail(`"${faceName}" is a non interface type.`);
  const fields = nodeList(definition.Fields, 'field');
  for (const required of nodeList(face.Fields, 'field')) {
    const found = fields.find((field) => field.Name === required.Name);
    if (found === undefined) fail(`must have a field called ${String(required.Name)}`);
    if (!isCovariant(state, typeOf(required), typeOf(found))) fail('the field must have a covariant type');
    const foundArguments = nodeList(found.Arguments, 'argument');
    const requiredArguments = nodeList(required.Arguments, 'argument');
    for (const requiredArgument of requiredArguments) {
      const foundArgument = foundArguments.find((argument) => argument.Name === requiredArgument.Name);
      if (foundArgument === undefined) fail('missing argument');
      if (!isCompatible(typeOf(requiredArgument), typeOf(foundArgument))) fail('argument has the wrong type');
    }
    for (const extra of foundArguments) {
      const declared = requiredArguments.some((argument) => argument.Name === extra.Name);
      if (!declared && typeOf(extra).NonNull === true && isNil(extra.DefaultValue)) fail('additional arguments must be optional');
    }
  }
  for (const transitive of stringsOf(face.Interfaces)) {
    if (!stringsOf(definition.Interfaces).includes(transitive)) fail(`must implement ${transitive}`);
  }
}

function isCovariant(state: SchemaState, required: GoNode | null, actual: GoNode | null): boolean {
  if (required === null || actual === null) fail('GraphQL schema: malformed type');
  if (required.NonNull === true && actual.NonNull !== true) return false;
  if (typeof required.NamedType === 'string' && required.NamedType !== '') {
    if (required.NamedType === actual.NamedType) return true;
    return (state.possibleTypes.get(required.NamedType) ?? []).some((type) => type !== undefined && type.Name === actual.NamedType);
  }
  if (!isNil(required.Elem) && isNil(actual.Elem)) return false;
  return isCovariant(state, (required.Elem ?? null) as GoNode | null, (actual.Elem ?? null) as GoNode | null);
}

/** ast.Type.IsCompatible, asymmetric as in gqlparser. */
function isCompatible(type: GoNode, other: GoNode | null): boolean {
  if (other === null) fail('GraphQL schema: malformed type');
  if (type.NamedType !== other.NamedType) return false;
  if (!isNil(type.Elem) && isNil(other.Elem)) return false;
  if (!isNil(type.Elem) && !isCompatible(type.Elem as GoNode, other.Elem as GoNode)) return false;
  if (other.NonNull === true) return type.NonNull === true;
  return true;
}

// ---------- the graphql-js schema ----------

function name(value: unknown): NameNode {
  return { kind: Kind.NAME, value: String(value ?? '') };
}

function typeNodeOf(type: GoNode): TypeNode {
  const inner: TypeNode =
    typeof type.NamedType === 'string' && type.NamedType !== ''
      ? { kind: Kind.NAMED_TYPE, name: name(type.NamedType) }
      : { kind: Kind.LIST_TYPE, type: typeNodeOf(type.Elem as GoNode) };
  return type.NonNull === true ? { kind: Kind.NON_NULL_TYPE, type: inner } : inner;
}

/** A default value, as graphql-js reads one; gqlparser's rules never look inside it. */
function constValueOf(value: GoNode | null | undefined): ConstValueNode {
  if (value === null || value === undefined) return { kind: Kind.NULL };
  const raw = String(value.Raw ?? '');
  switch (value.Kind) {
    case VALUE_KIND.IntValue:
      return { kind: Kind.INT, value: raw };
    case VALUE_KIND.FloatValue:
      return { kind: Kind.FLOAT, value: raw };
    case VALUE_KIND.StringValue:
    case VALUE_KIND.BlockValue:
      return { kind: Kind.STRING, value: raw };
    case VALUE_KIND.BooleanValue:
      return { kind: Kind.BOOLEAN, value: raw === 'true' };
    case VALUE_KIND.EnumValue:
      return { kind: Kind.ENUM, value: raw };
    case VALUE_KIND.ListValue:
      return { kind: Kind.LIST, values: listOf(value.Children).map((child) => constValueOf(child?.Value as GoNode | null)) };
    case VALUE_KIND.ObjectValue:
      return {
        kind: Kind.OBJECT,
        fields: listOf(value.Children).map((child) => ({ kind: Kind.OBJECT_FIELD, name: name(child?.Name), value: constValueOf(child?.Value as GoNode | null) })),
      };
    default:
      return { kind: Kind.NULL };
  }
}

function inputValuesOf(list: unknown) {
  return listOf(list).map((argument) => ({
    kind: Kind.INPUT_VALUE_DEFINITION,
    name: name(argument.Name),
    type: typeNodeOf(argument.Type as GoNode),
    ...(isNil(argument.DefaultValue) ? {} : { defaultValue: constValueOf(argument.DefaultValue as GoNode) }),
  })) as never;
}

function definitionNodeOf(definition: GoNode): DefinitionNode | undefined {
  const base = { name: name(definition.Name) };
  const interfaces = stringsOf(definition.Interfaces).map((face) => ({ kind: Kind.NAMED_TYPE, name: name(face) })) as never;
  const fields = listOf(definition.Fields).map((field) => ({
    kind: Kind.FIELD_DEFINITION,
    name: name(field.Name),
    arguments: inputValuesOf(field.Arguments),
    type: typeNodeOf(field.Type as GoNode),
  })) as never;
  // @oneOf is the one type directive gqlparser's query rules read (ValuesOfCorrectType).
  const directives = listOf(definition.Directives).some((directive) => directive.Name === 'oneOf')
    ? ([{ kind: Kind.DIRECTIVE, name: name('oneOf') }] as never)
    : undefined;
  switch (definition.Kind) {
    case 'SCALAR':
      return { kind: Kind.SCALAR_TYPE_DEFINITION, ...base };
    case 'OBJECT':
      return { kind: Kind.OBJECT_TYPE_DEFINITION, ...base, interfaces, fields };
    case 'INTERFACE':
      return { kind: Kind.INTERFACE_TYPE_DEFINITION, ...base, interfaces, fields };
    case 'UNION':
      return { kind: Kind.UNION_TYPE_DEFINITION, ...base, types: stringsOf(definition.Types).map((member) => ({ kind: Kind.NAMED_TYPE, name: name(member) })) as never };
    case 'ENUM':
      return { kind: Kind.ENUM_TYPE_DEFINITION, ...base, values: listOf(definition.EnumValues).map((value) => ({ kind: Kind.ENUM_VALUE_DEFINITION, name: name(value.Name) })) as never };
    case 'INPUT_OBJECT':
      return { kind: Kind.INPUT_OBJECT_TYPE_DEFINITION, ...base, fields: inputValuesOf(definition.Fields), ...(directives ? { directives } : {}) };
    default:
      return undefined;
  }
}

function buildGraphqlSchema(state: SchemaState): GraphQLSchema {
  try {
    return buildGraphqlSchemaOrThrow(state);
  } catch (error) {
    // What graphql-js cannot build (gqlparser checks less than it assumes) is as invalid as a failed check.
    if (error instanceof BuiltinError) throw error;
    fail(`GraphQL schema: ${(error as Error).message}`);
  }
}

function buildGraphqlSchemaOrThrow(state: SchemaState): GraphQLSchema {
  const definitions: DefinitionNode[] = [];
  for (const definition of state.types.values()) {
    // graphql-js brings its own introspection types; two of a name would be refused.
    if (definition.BuiltIn === true && String(definition.Name).startsWith('__')) continue;
    const node = definitionNodeOf(definition);
    if (node !== undefined) definitions.push(node);
  }
  for (const directive of state.directives.values()) {
    definitions.push({
      kind: Kind.DIRECTIVE_DEFINITION,
      name: name(directive.Name),
      arguments: inputValuesOf(directive.Arguments),
      repeatable: directive.IsRepeatable === true,
      locations: stringsOf(directive.Locations).map((location) => name(location)),
    });
  }
  const document: DocumentNode = { kind: Kind.DOCUMENT, definitions };
  const built = buildASTSchema(document, { assumeValid: true, assumeValidSDL: true });
  const root = (definition: GoNode | undefined) => {
    const type = definition === undefined ? undefined : built.getType(String(definition.Name));
    return type === undefined ? undefined : (type as never);
  };
  // The roots gqlparser chose; assumeValid, because gqlparser (not graphql-js) decided the schema is valid.
  return new GraphQLSchema({
    ...built.toConfig(),
    query: root(state.roots.query),
    mutation: root(state.roots.mutation),
    subscription: root(state.roots.subscription),
    assumeValid: true,
  });
}
