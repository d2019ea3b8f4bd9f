// A query (gqlparser's nodes) validated against a schema with the rules of gqlparser's NewDefaultRules, on graphql-js.
import {
  GraphQLError,
  Kind,
  specifiedRules,
  ExecutableDefinitionsRule,
  ValuesOfCorrectTypeRule,
  getNamedType,
  isObjectType,
  validate,
  type ASTVisitor,
  type ArgumentNode,
  type IntValueNode,
  type DirectiveNode,
  type DocumentNode,
  type ExecutableDefinitionNode,
  type NameNode,
  type SelectionNode,
  type TypeNode,
  type ValidationRule,
  type ValueNode,
  type VariableDefinitionNode,
} from 'graphql';
import { fail } from './builtin.js';
import { VALUE_KIND, listOf, type GoNode } from './graphql-model.js';
import type { ValidatedSchema } from './graphql-schema.js';

/**
 * gqlparser's KnownRootType: an operation whose root type the schema lacks (graphql-js 16 leaves that to
 * execution). A root that is not an object type (gqlparser lets `schema { query: SomeScalar }` through) has
 * no fields to select, which gqlparser's FieldsOnCorrectType reports and graphql-js would not.
 */
const KnownRootTypeRule: ValidationRule = (context) => ({
  OperationDefinition(node) {
    const schema = context.getSchema();
    const root = node.operation === 'mutation' ? schema.getMutationType() : node.operation === 'subscription' ? schema.getSubscriptionType() : schema.getQueryType();
    if (root === undefined || root === null) context.reportError(new GraphQLError(`Schema does not support operation type "${node.operation}"`));
    else if (!isObjectType(root)) context.reportError(new GraphQLError(`the ${node.operation} root ${String((root as { name: unknown }).name)} is not an object type`));
  },
});

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function isInt64(literal: string): boolean {
  const value = BigInt(literal);
  return value >= INT64_MIN && value <= INT64_MAX;
}

/**
 * graphql-js's ValuesOfCorrectType with gqlparser's integers: an Int literal is valid for Int and ID when it
 * fits int64 (strconv.ParseInt), where graphql-js holds Int to 32 bits and ID to nothing.
 */
const ValuesOfCorrectTypeInt64Rule: ValidationRule = (context) => {
  const filtered = Object.create(context, {
    reportError: {
      value: (error: GraphQLError) => {
        const node = error.nodes?.[0];
        if (node?.kind === Kind.INT && getNamedType(context.getInputType() ?? undefined)?.name === 'Int' && isInt64(node.value)) return;
        context.reportError(error);
      },
    },
  }) as typeof context;
  const visitor = ValuesOfCorrectTypeRule(filtered) as ASTVisitor & { IntValue?: (node: IntValueNode) => void };
  return {
    ...visitor,
    IntValue(node: IntValueNode) {
      if (getNamedType(context.getInputType() ?? undefined)?.name === 'ID' && !isInt64(node.value)) {
        context.reportError(new GraphQLError(`ID cannot represent ${node.value}`, { nodes: node }));
      }
      visitor.IntValue?.(node);
    },
  };
};

/**
 * gqlparser's default rules are graphql-js's specified rules under the same names, without
 * ExecutableDefinitions (a query document holds nothing else), with KnownRootType.
 */
const RULES: readonly ValidationRule[] = [
  ...specifiedRules
    .filter((rule) => rule !== ExecutableDefinitionsRule)
    .map((rule) => (rule === ValuesOfCorrectTypeRule ? ValuesOfCorrectTypeInt64Rule : rule)),
  KnownRootTypeRule,
];

/** Fails with a builtin error (OPA's validateQuery) when the query breaks a rule. */
export function validateQuery(schema: ValidatedSchema, query: GoNode): void {
  let errors: readonly GraphQLError[];
  try {
    errors = validate(schema.graphql, documentOf(query), RULES, { maxErrors: 1 });
  } catch (error) {
    // A schema graphql-js cannot walk (a root that is not an object type): as invalid as gqlparser finds it.
    fail(`GraphQL validation: ${(error as Error).message}`);
  }
  if (errors.length > 0) fail(errors[0]!.message);
}

function name(value: unknown): NameNode {
  return { kind: Kind.NAME, value: String(value ?? '') };
}

function documentOf(query: GoNode): DocumentNode {
  const definitions: ExecutableDefinitionNode[] = [];
  for (const operation of listOf(query.Operations)) {
    if (operation === null) fail('GraphQL query: an operation is null');
    const operationName = String(operation.Name ?? '');
    const kind = operation.Operation === '' ? 'query' : operation.Operation;
    if (kind !== 'query' && kind !== 'mutation' && kind !== 'subscription') fail(`GraphQL query: unknown operation type ${String(kind)}`);
    definitions.push({
      kind: Kind.OPERATION_DEFINITION,
      operation: kind as never,
      ...(operationName === '' ? {} : { name: name(operationName) }),
      variableDefinitions: variablesOf(operation.VariableDefinitions),
      directives: directivesOf(operation.Directives),
      selectionSet: { kind: Kind.SELECTION_SET, selections: selectionsOf(operation.SelectionSet) },
    });
  }
  for (const fragment of listOf(query.Fragments)) {
    if (fragment === null) fail('GraphQL query: a fragment is null');
    definitions.push({
      kind: Kind.FRAGMENT_DEFINITION,
      name: name(fragment.Name),
      variableDefinitions: variablesOf(fragment.VariableDefinition),
      typeCondition: { kind: Kind.NAMED_TYPE, name: name(fragment.TypeCondition) },
      directives: directivesOf(fragment.Directives),
      selectionSet: { kind: Kind.SELECTION_SET, selections: selectionsOf(fragment.SelectionSet) },
    });
  }
  return { kind: Kind.DOCUMENT, definitions };
}

function variablesOf(list: unknown): VariableDefinitionNode[] {
  return listOf(list).map((variable) => {
    if (variable === null) fail('GraphQL query: a variable definition is null');
    const type = variable.Type as GoNode | null;
    if (type === null || type === undefined) fail('GraphQL query: a variable has no type');
    return {
      kind: Kind.VARIABLE_DEFINITION,
      variable: { kind: Kind.VARIABLE, name: name(variable.Variable) },
      type: typeOf(type),
      ...(variable.DefaultValue === null || variable.DefaultValue === undefined ? {} : { defaultValue: valueOf(variable.DefaultValue as GoNode) as never }),
      directives: directivesOf(variable.Directives) as never,
    };
  });
}

function typeOf(type: GoNode): TypeNode {
  const inner: TypeNode =
    typeof type.NamedType === 'string' && type.NamedType !== ''
      ? { kind: Kind.NAMED_TYPE, name: name(type.NamedType) }
      : type.Elem !== null && type.Elem !== undefined
        ? { kind: Kind.LIST_TYPE, type: typeOf(type.Elem as GoNode) }
        : { kind: Kind.NAMED_TYPE, name: name('') };
  return type.NonNull === true ? { kind: Kind.NON_NULL_TYPE, type: inner } : inner;
}

function argumentsOf(list: unknown): ArgumentNode[] {
  return listOf(list).map((argument) => {
    if (argument === null) fail('GraphQL query: an argument is null');
    return { kind: Kind.ARGUMENT, name: name(argument.Name), value: valueOf((argument.Value ?? null) as GoNode | null) };
  });
}

function directivesOf(list: unknown): DirectiveNode[] {
  return listOf(list).map((directive) => {
    if (directive === null) fail('GraphQL query: a directive is null');
    return { kind: Kind.DIRECTIVE, name: name(directive.Name), arguments: argumentsOf(directive.Arguments) };
  });
}

function selectionsOf(list: unknown): SelectionNode[] {
  return listOf(list).map((selection): SelectionNode => {
    if (selection === null) fail('GraphQL query: a selection is null');
    // A node from parseQueryText says what it is by its fields; one decoded from an object is always a Field.
    if ('Alias' in selection) {
      const alias = String(selection.Alias ?? '');
      const fieldName = String(selection.Name ?? '');
      const children = listOf(selection.SelectionSet);
      return {
        kind: Kind.FIELD,
        // gqlparser answers to the name when the alias is empty (a field decoded from an object without one).
        ...(alias === fieldName || alias === '' ? {} : { alias: name(alias) }),
        name: name(fieldName),
        arguments: argumentsOf(selection.Arguments),
        directives: directivesOf(selection.Directives),
        ...(children.length === 0 ? {} : { selectionSet: { kind: Kind.SELECTION_SET, selections: selectionsOf(children) } }),
      };
    }
    if ('SelectionSet' in selection) {
      const condition = String(selection.TypeCondition ?? '');
      return {
        kind: Kind.INLINE_FRAGMENT,
        ...(condition === '' ? {} : { typeCondition: { kind: Kind.NAMED_TYPE, name: name(condition) } }),
        directives: directivesOf(selection.Directives),
        selectionSet: { kind: Kind.SELECTION_SET, selections: selectionsOf(selection.SelectionSet) },
      };
    }
    return { kind: Kind.FRAGMENT_SPREAD, name: name(selection.Name), directives: directivesOf(selection.Directives) };
  });
}

function valueOf(value: GoNode | null): ValueNode {
  // A nil value (an argument decoded from an object without one) reads as null in gqlparser's rules.
  if (value === null) return { kind: Kind.NULL };
  const raw = String(value.Raw ?? '');
  switch (value.Kind) {
    case VALUE_KIND.Variable:
      return { kind: Kind.VARIABLE, name: name(raw) };
    case VALUE_KIND.IntValue:
      return { kind: Kind.INT, value: raw };
    case VALUE_KIND.FloatValue:
      return { kind: Kind.FLOAT, value: raw };
    case VALUE_KIND.StringValue:
      return { kind: Kind.STRING, value: raw };
    case VALUE_KIND.BlockValue:
      return { kind: Kind.STRING, value: raw, block: true };
    case VALUE_KIND.BooleanValue:
      return { kind: Kind.BOOLEAN, value: raw === 'true' };
    case VALUE_KIND.NullValue:
      return { kind: Kind.NULL };
    case VALUE_KIND.EnumValue:
      return { kind: Kind.ENUM, value: raw };
    case VALUE_KIND.ListValue:
      return { kind: Kind.LIST, values: listOf(value.Children).map((child) => valueOf((child?.Value ?? null) as GoNode | null)) };
    case VALUE_KIND.ObjectValue:
      return {
        kind: Kind.OBJECT,
        fields: listOf(value.Children).map((child) => ({ kind: Kind.OBJECT_FIELD, name: name(child?.Name), value: valueOf((child?.Value ?? null) as GoNode | null) })),
      };
    default:
      fail(`GraphQL query: unknown value kind ${String(value.Kind)}`);
  }
}
