// Differential cases of graphql.*: queries with fragments, variables, directives, aliases and comments; invalid
// queries and schemas; schemas and queries given as objects; deep and large documents.
import type { Cases } from '../differential.js';

const SCHEMA = `
  "The root"
  type Query {
    # the hero
    hero(episode: Episode = NEWHOPE): Character
    human(id: ID!): Human
    search(text: String, limit: Int = 10): [SearchResult!]!
    node(filter: Filter): Character
    version: String!
  }
  type Mutation { rename(id: ID!, name: String!): Human }
  enum Episode { NEWHOPE EMPIRE JEDI }
  interface Character { id: ID! name: String friends: [Character] }
  type Human implements Character { id: ID! name: String friends: [Character] height(unit: Unit = METER): Float }
  type Droid implements Character { id: ID! name: String friends: [Character] primaryFunction: String }
  union SearchResult = Human | Droid
  enum Unit { METER FOOT }
  input Filter { name: String!, episodes: [Episode!] = [JEDI], exact: Boolean = false }
  directive @cached(ttl: Int!) repeatable on FIELD | QUERY
  # the end
`;

const schema = JSON.stringify(SCHEMA);
const SCHEMA_SMALL = 'input I { k: [Int!] } type A { b: Int } type Query { a(o: I): A }';
const q = (text: string): string => JSON.stringify(text);

// A valid query nesting levels + 2 brackets deep.
const deepQuery = (levels: number): string => `{ hero ${'{ friends '.repeat(levels)}{ name }${' }'.repeat(levels)} }`;
const wideQuery = (fields: number): string => `{ ${Array.from({ length: fields }, (_, i) => `a${i}: version`).join(' ')} }`;

export const graphqlCases: Cases = {
  // parse_query: the AST as OPA gives it.
  parse_query_simple: `graphql.parse_query(${q('{ hero { name } }')})`,
  parse_query_full: `graphql.parse_query(${q(`# leading
query Hero($episode: Episode = JEDI, $withFriends: Boolean! # c2
) @cached(ttl: 5) {
  # field comment
  leader: hero(episode: $episode) {
    name
    ...Friends @include(if: $withFriends)
    ... on Human { height(unit: FOOT) }
    ... @skip(if: false) { id }
  }
  search(text: "r2\\u0044", limit: 3) { __typename }
}
fragment Friends on Character { friends { name } }
mutation M { rename(id: 1, name: """
    block
      text
""") { id } }`)})`,
  parse_query_values: `graphql.parse_query(${q('{ a(i: -12, f: 1.5e3, s: "x\\ty", b: true, n: null, e: ENUM, l: [1, [2]], o: {k: {j: $v}, # c\n m: []}) }')})`,
  parse_query_object_comments: `graphql.parse_query(${q('{ a(o: # before object\n { # before field\n k: 1 }, l: # before list\n [1]) }')})`,
  parse_query_anonymous_fragment_vars: `graphql.parse_query(${q('fragment F($a: Int = 1) on T { f(a: $a) } { ...F }')})`,
  parse_query_subscription: `graphql.parse_query(${q('subscription S { a }')})`,
  parse_query_bad_syntax: `graphql.parse_query(${q('{ hero { name }')})`,
  parse_query_schema_definition: `graphql.parse_query(${q('type Query { a: Int }')})`,
  parse_query_empty: `graphql.parse_query("")`,
  parse_query_not_string: `graphql.parse_query(input.object_with_number)`,
  parse_query_bad_escape: `graphql.parse_query(${q('{ a(s: "\\q") }')})`,
  parse_query_trailing_comment: `graphql.parse_query(${q('{ a } # tail')})`,
  parse_query_deep: `count(graphql.parse_query(${q(deepQuery(20))}).Operations)`,
  parse_query_wide: `count(graphql.parse_query(${q(wideQuery(2000))}).Operations[0].SelectionSet)`,

  // parse_schema.
  parse_schema: `graphql.parse_schema(${schema})`,
  parse_schema_extensions: `graphql.parse_schema(${q(`# s1
"desc" # s2
type Query { "fd" f(a: Int = 1): String! @deprecated(reason: "x") # end
}
extend type Query { g: [Int] }
extend schema @dir { mutation: M }
schema { query: Query }
extend scalar Date @specifiedBy(url: "x")
extend union U = A
extend enum E { X }
extend input I { a: Int }
extend interface N { id: ID }
"""block desc""" directive @d(a: Int) repeatable on FIELD | OBJECT
scalar Date
# tail
`)})`,
  parse_schema_descriptions: `graphql.parse_schema(${q(`type T {
  # before desc
  "field desc"
  # after desc
  f(
    # arg comment
    "arg desc" a: Int
  ): Int
  "" g: Int
}
enum E {
  # value comment
  "value desc" A
  B @deprecated
}
input I { "in" x: [Int!]! = [1] }`)})`,
  parse_schema_bad: `graphql.parse_schema(${q('type Query {')})`,
  parse_schema_query_in_schema: `graphql.parse_schema(${q('{ a }')})`,
  parse_schema_empty: `graphql.parse_schema("")`,
  parse_schema_only_comment: `graphql.parse_schema("# nothing")`,

  // schema_is_valid.
  schema_valid: `graphql.schema_is_valid(${schema})`,
  schema_valid_minimal: `graphql.schema_is_valid("type Query { a: Int }")`,
  schema_valid_no_query: `graphql.schema_is_valid("type Foo { a: Int }")`,
  schema_valid_empty: `graphql.schema_is_valid("")`,
  schema_invalid_syntax: `graphql.schema_is_valid("type Query {")`,
  schema_invalid_unknown_type: `graphql.schema_is_valid("type Query { a: Missing }")`,
  schema_invalid_redeclared: `graphql.schema_is_valid("type Query { a: Int } type Query { b: Int }")`,
  schema_invalid_builtin_scalar: `graphql.schema_is_valid("scalar String type Query { a: String }")`,
  schema_redeclare_skip: `graphql.schema_is_valid("directive @skip(if: Boolean!) on FIELD type Query { a: Int }")`,
  schema_invalid_redeclare_directive: `graphql.schema_is_valid("directive @d on FIELD directive @d on FIELD type Query { a: Int }")`,
  schema_invalid_no_fields: `graphql.schema_is_valid("interface I type Query { a: Int }")`,
  schema_invalid_reserved_name: `graphql.schema_is_valid("type Query { __a: Int }")`,
  schema_invalid_implements: `graphql.schema_is_valid("interface I { id: ID! } type Query implements I { a: Int }")`,
  schema_invalid_covariance: `graphql.schema_is_valid("interface I { id: ID! } type Query implements I { id: ID }")`,
  schema_valid_covariance: `graphql.schema_is_valid("interface I { f: I } type Query implements I { f: Query }")`,
  schema_invalid_union_member: `graphql.schema_is_valid("union U = Int type Query { u: U }")`,
  schema_invalid_input_field: `graphql.schema_is_valid("type Query { a(f: F): Int } input F { q: Query }")`,
  schema_invalid_argument_type: `graphql.schema_is_valid("type Query { a(q: Query): Int }")`,
  schema_invalid_directive_location: `graphql.schema_is_valid("type Query { a: Int @specifiedBy(url: \\"x\\") }")`,
  schema_invalid_directive_missing_arg: `graphql.schema_is_valid("scalar D @specifiedBy type Query { a: D }")`,
  schema_invalid_unknown_directive: `graphql.schema_is_valid("type Query { a: Int @nope }")`,
  schema_invalid_two_schemas: `graphql.schema_is_valid("schema { query: Query } schema { query: Query } type Query { a: Int }")`,
  schema_invalid_root_missing: `graphql.schema_is_valid("schema { query: Nope } type Query { a: Int }")`,
  schema_invalid_extend_kind: `graphql.schema_is_valid("type Query { a: Int } extend input Query { b: Int }")`,
  schema_valid_extend_new: `graphql.schema_is_valid("extend type Query { a: Int }")`,
  schema_invalid_enum_true: `graphql.schema_is_valid("enum E { true } type Query { e: E }")`,
  schema_invalid_duplicate_field: `graphql.schema_is_valid("type Query { a: Int a: String }")`,
  schema_invalid_transitive: `graphql.schema_is_valid("interface A { x: Int } interface B implements A { x: Int } type Query implements B { x: Int }")`,
  schema_valid_union_empty_scalar_root: `graphql.schema_is_valid("schema { query: S } scalar S")`,
  schema_not_string: `graphql.schema_is_valid(input.number)`,
  schema_object: `graphql.schema_is_valid(graphql.parse_schema(${schema}))`,
  schema_object_empty: `graphql.schema_is_valid({})`,
  schema_object_wrong_type: `graphql.schema_is_valid({"Definitions": "x"})`,
  schema_object_lowercase: `graphql.schema_is_valid({"definitions": [{"kind": "OBJECT", "name": "Query", "fields": [{"name": "a", "type": {"namedType": "Int"}}]}]})`,

  // is_valid.
  valid: `graphql.is_valid(${q('query Q($e: Episode) { hero(episode: $e) { name ... on Human { height } } }')}, ${schema})`,
  valid_fragments: `graphql.is_valid(${q('{ hero { ...F } } fragment F on Character { id friends { name } }')}, ${schema})`,
  valid_introspection: `graphql.is_valid(${q('{ __schema { types { name } } __type(name: "Query") { name } hero { __typename } }')}, ${schema})`,
  valid_mutation: `graphql.is_valid(${q('mutation { rename(id: "1", name: "x") { id } }')}, ${schema})`,
  valid_input_object: `graphql.is_valid(${q('{ node(filter: {name: "x", episodes: [JEDI]}) { id } }')}, ${schema})`,
  valid_repeatable: `graphql.is_valid(${q('query @cached(ttl: 1) @cached(ttl: 2) { version }')}, ${schema})`,
  valid_aliases: `graphql.is_valid(${q('{ a: version b: version }')}, ${schema})`,
  invalid_unknown_field: `graphql.is_valid(${q('{ nope }')}, ${schema})`,
  invalid_missing_selection: `graphql.is_valid(${q('{ hero }')}, ${schema})`,
  invalid_leaf_selection: `graphql.is_valid(${q('{ version { x } }')}, ${schema})`,
  invalid_missing_argument: `graphql.is_valid(${q('{ human { id } }')}, ${schema})`,
  invalid_unknown_argument: `graphql.is_valid(${q('{ version(x: 1) }')}, ${schema})`,
  invalid_argument_type: `graphql.is_valid(${q('{ human(id: true) { id } }')}, ${schema})`,
  invalid_enum_value: `graphql.is_valid(${q('{ hero(episode: NOPE) { id } }')}, ${schema})`,
  invalid_enum_as_string: `graphql.is_valid(${q('{ hero(episode: "JEDI") { id } }')}, ${schema})`,
  invalid_undefined_variable: `graphql.is_valid(${q('{ hero(episode: $e) { id } }')}, ${schema})`,
  invalid_unused_variable: `graphql.is_valid(${q('query ($e: Episode) { version }')}, ${schema})`,
  invalid_variable_position: `graphql.is_valid(${q('query ($id: ID) { human(id: $id) { id } }')}, ${schema})`,
  invalid_variable_not_input: `graphql.is_valid(${q('query ($h: Human) { version }')}, ${schema})`,
  invalid_duplicate_variable: `graphql.is_valid(${q('query ($a: Int, $a: Int) { search(limit: $a) { __typename } }')}, ${schema})`,
  invalid_unknown_fragment: `graphql.is_valid(${q('{ hero { ...Nope } }')}, ${schema})`,
  invalid_unused_fragment: `graphql.is_valid(${q('{ version } fragment F on Query { version }')}, ${schema})`,
  invalid_fragment_cycle: `graphql.is_valid(${q('{ hero { ...A } } fragment A on Character { ...B } fragment B on Character { ...A }')}, ${schema})`,
  invalid_fragment_on_scalar: `graphql.is_valid(${q('{ version } fragment F on String { x }')}, ${schema})`,
  invalid_impossible_spread: `graphql.is_valid(${q('{ hero { ... on Query { version } } }')}, ${schema})`,
  invalid_fragment_unknown_type: `graphql.is_valid(${q('{ hero { ... on Nope { id } } }')}, ${schema})`,
  invalid_duplicate_operation: `graphql.is_valid(${q('query A { version } query A { version }')}, ${schema})`,
  invalid_lone_anonymous: `graphql.is_valid(${q('{ version } query B { version }')}, ${schema})`,
  invalid_duplicate_fragment: `graphql.is_valid(${q('{ hero { ...F } } fragment F on Character { id } fragment F on Character { id }')}, ${schema})`,
  invalid_unknown_directive: `graphql.is_valid(${q('{ version @nope }')}, ${schema})`,
  invalid_directive_place: `graphql.is_valid(${q('query @include(if: true) { version }')}, ${schema})`,
  invalid_duplicate_directive: `graphql.is_valid(${q('{ version @skip(if: true) @skip(if: false) }')}, ${schema})`,
  invalid_duplicate_argument: `graphql.is_valid(${q('{ search(limit: 1, limit: 2) { __typename } }')}, ${schema})`,
  invalid_duplicate_input_field: `graphql.is_valid(${q('{ node(filter: {name: "a", name: "b"}) { id } }')}, ${schema})`,
  invalid_missing_input_field: `graphql.is_valid(${q('{ node(filter: {exact: true}) { id } }')}, ${schema})`,
  invalid_unknown_input_field: `graphql.is_valid(${q('{ node(filter: {name: "a", nope: 1}) { id } }')}, ${schema})`,
  invalid_conflicting_aliases: `graphql.is_valid(${q('{ a: version a: hero { id } }')}, ${schema})`,
  invalid_conflicting_arguments: `graphql.is_valid(${q('{ search(limit: 1) { __typename } search(limit: 2) { __typename } }')}, ${schema})`,
  invalid_no_mutation_root: `graphql.is_valid(${q('subscription { version }')}, ${schema})`,
  invalid_two_subscription_fields: `graphql.is_valid(${q('subscription { a b }')}, "type Query { a: Int } type Subscription { a: Int b: Int }")`,
  invalid_deep_introspection: `graphql.is_valid(${q('{ __schema { types { fields { type { fields { type { fields { type { name } } } } } } } } }')}, ${schema})`,
  invalid_syntax: `graphql.is_valid(${q('{ version')}, ${schema})`,
  invalid_schema: `graphql.is_valid(${q('{ version }')}, "type Query { a: Missing }")`,
  not_string_query: `graphql.is_valid(input.number, ${schema})`,
  not_string_schema: `graphql.is_valid("{ version }", input.number)`,
  valid_int_for_float: `graphql.is_valid(${q('{ hero { ... on Human { height } } search(text: "x", limit: 2) { __typename } }')}, ${schema})`,
  valid_big_int: `graphql.is_valid(${q('{ search(limit: 3000000000) { __typename } }')}, ${schema})`,
  invalid_int64_overflow: `graphql.is_valid(${q('{ search(limit: 9223372036854775808) { __typename } }')}, ${schema})`,
  valid_id_int: `graphql.is_valid(${q('{ human(id: 9223372036854775807) { id } }')}, ${schema})`,
  invalid_id_int_overflow: `graphql.is_valid(${q('{ human(id: 99999999999999999999) { id } }')}, ${schema})`,
  valid_empty_query_doc: `graphql.is_valid("# nothing", ${schema})`,
  valid_int_for_id: `graphql.is_valid(${q('{ human(id: 12) { id } }')}, ${schema})`,
  valid_custom_scalar: `graphql.is_valid(${q('{ a(d: {x: [1, "y"]}) }')}, "scalar D type Query { a(d: D): Int }")`,
  valid_one_of: `graphql.is_valid(${q('{ a(o: {x: 1}) }')}, "input O @oneOf { x: Int y: Int } type Query { a(o: O): Int }")`,
  invalid_one_of: `graphql.is_valid(${q('{ a(o: {x: 1, y: 2}) }')}, "input O @oneOf { x: Int y: Int } type Query { a(o: O): Int }")`,
  invalid_null_non_null: `graphql.is_valid(${q('{ human(id: null) { id } }')}, ${schema})`,
  valid_list_coercion: `graphql.is_valid(${q('{ node(filter: {name: "x", episodes: JEDI}) { id } }')}, ${schema})`,
  valid_query_object: `graphql.is_valid(graphql.parse_query(${q('{ hero { name } }')}), ${schema})`,
  query_object_with_fragment: `graphql.is_valid(graphql.parse_query(${q('{ hero { ...F } } fragment F on Character { id }')}), ${schema})`,
  query_object_empty: `graphql.is_valid({}, ${schema})`,
  valid_deep: `graphql.is_valid(${q(deepQuery(30))}, ${schema})`,
  valid_deep_at_limit: `graphql.is_valid(${q(deepQuery(126))}, ${schema})`,
  // Beyond meshwarden's limits (known differences): nesting past 128 brackets, and a field-merging check
  // past graphql-js's budget (one field repeated 1,000 times: half a million comparisons).
  deep_past_limit: `graphql.is_valid(${q(deepQuery(127))}, ${schema})`,
  deep_past_limit_parse: `count(graphql.parse_query(${q(deepQuery(127))}).Operations)`,
  past_token_limit: {
    body: `fields := concat(" ", [sprintf("a%d: version", [i]) | some i in numbers.range(0, 6999)]); x := graphql.is_valid(concat("", ["{ ", fields, " }"]), ${schema})`,
  },
  within_token_limit: {
    body: `fields := concat(" ", [sprintf("a%d: version", [i]) | some i in numbers.range(0, 6599)]); x := graphql.is_valid(concat("", ["{ ", fields, " }"]), ${schema})`,
  },
  repeated_field_past_budget: `graphql.is_valid(${q(`{ ${'version '.repeat(1000)}}`)}, ${schema})`,
  repeated_field_within_budget: `graphql.is_valid(${q(`{ ${'version '.repeat(500)}}`)}, ${schema})`,
  valid_wide: `graphql.is_valid(${q(wideQuery(3000))}, ${schema})`,

  // The lexers: numbers, names, strings and escapes, block strings, ignored tokens.
  lex_numbers: `graphql.parse_query(${q('{ a(x: 0, y: -0, z: 1e10, w: 1.0E-3, v: -1.5) }')})`,
  lex_leading_zero: `graphql.parse_query(${q('{ a(x: 01) }')})`,
  lex_dot_number: `graphql.parse_query(${q('{ a(x: 1.) }')})`,
  lex_number_name: `graphql.parse_query(${q('{ a(x: 1a) }')})`,
  lex_unicode_escape: `graphql.parse_query(${q('{ a(s: "\\u00e9\\u0041") }')})`,
  lex_surrogate_pair: `graphql.parse_query(${q('{ a(s: "\\uD83D\\uDE00") }')})`,
  lex_lone_surrogate: `graphql.parse_query(${q('{ a(s: "\\uD83D") }')})`,
  lex_braced_escape: `graphql.parse_query(${q('{ a(s: "\\u{1F600}") }')})`,
  lex_escapes: `graphql.parse_query(${q('{ a(s: "\\"\\\\\\/\\b\\f\\n\\r\\t") }')})`,
  lex_raw_unicode: `graphql.parse_query(${q('{ a(s: "héllo ✓ 😀") }')})`,
  lex_tab_in_string: `graphql.parse_query(${q('{ a(s: "a\tb") }')})`,
  lex_control_in_string: `graphql.parse_query(${q('{ a(s: "a\u0001b") }')})`,
  lex_newline_in_string: `graphql.parse_query(${q('{ a(s: "a\nb") }')})`,
  lex_unterminated: `graphql.parse_query(${q('{ a(s: "abc) }')})`,
  lex_block_indent: `graphql.parse_query(${q('{ a(s: """\n    first\n      second\n\n    third\n  """) }')})`,
  lex_block_escaped_quotes: `graphql.parse_query(${q('{ a(s: """a \\""" b""") }')})`,
  lex_block_crlf: `graphql.parse_query(${q('{ a(s: """\r\n  x\r\n  y\r\n""") }')})`,
  lex_block_empty: `graphql.parse_query(${q('{ a(s: """""") }')})`,
  lex_block_whitespace_lines: `graphql.parse_query(${q('{ a(s: """\n  \n  x  \n  \n""") }')})`,
  lex_bom: 'graphql.parse_query("\\ufeff{ a }")',
  lex_commas: `graphql.parse_query(${q('{ a,,, b , c(x: 1,, y: 2) }')})`,
  lex_crlf_comments: `graphql.parse_query(${q('query Q {\r\n  # one\r\n  # two\r\n  a\r\n}')})`,
  lex_unicode_name: `graphql.parse_query(${q('{ é }')})`,
  lex_bad_char: `graphql.parse_query(${q('{ a ? }')})`,
  lex_spread_spaces: `graphql.parse_query(${q('{ . . . F }')})`,
  lex_keywords_as_names: `graphql.parse_query(${q('{ query mutation fragment on: type(true: false, null: null) }')})`,
  lex_fragment_named_on: `graphql.parse_query(${q('fragment on on T { a }')})`,
  lex_empty_selection: `graphql.parse_query(${q('{ }')})`,
  lex_empty_arguments: `graphql.parse_query(${q('{ a() }')})`,
  lex_empty_list_object: `graphql.parse_query(${q('{ a(l: [], o: {}) }')})`,
  lex_variable_directive: `graphql.parse_query(${q('query ($a: Int @d(x: $b)) { f }')})`,
  lex_variable_in_default: `graphql.parse_query(${q('query ($a: Int = $b) { f }')})`,
  lex_operation_description: `graphql.parse_query(${q('"d" query Q { a }')})`,
  lex_fragment_description: `graphql.parse_query(${q('{ ...F } "d" fragment F on T { a }')})`,
  lex_variable_description: `graphql.parse_query(${q('query Q("d" $a: Int) { a }')})`,
  lex_shorthand_description: `graphql.parse_query(${q('"d" { a }')})`,
  schema_block_empty_description_extend: `graphql.parse_schema(${q('# lost\n # kept\n extend type T { a: Int }')})`,
  schema_extend_directive: `graphql.parse_schema(${q('extend directive @d on FIELD')})`,
  schema_input_extension_variable_valid: `graphql.schema_is_valid(${q('directive @d(a: Int) on INPUT_OBJECT input I { x: Int } extend input I @d(a: $x) type Query { a(i: I): Int }')})`,
  lex_variable_directive_valid: `graphql.is_valid(${q('query ($a: Int @d(x: $a)) { search(limit: $a) { __typename } }')}, "directive @d(x: Int) on VARIABLE_DEFINITION type Query { search(limit: Int): [Int] }")`,
  lex_minus_alone: `graphql.parse_query(${q('{ a(x: -) }')})`,
  lex_exponent_missing: `graphql.parse_query(${q('{ a(x: 1e) }')})`,
  lex_leading_dot: `graphql.parse_query(${q('{ a(x: .5) }')})`,
  lex_plus_exponent: `graphql.parse_query(${q('{ a(x: 1E+2, y: 2e-0) }')})`,
  lex_negative_zero_float: `graphql.parse_query(${q('{ a(x: -0.0) }')})`,
  lex_number_dot_name: `graphql.parse_query(${q('{ a(x: 1.5a) }')})`,
  lex_huge_int: `graphql.parse_query(${q('{ a(x: 123456789012345678901234567890) }')})`,
  lex_short_unicode_escape: `graphql.parse_query(${q('{ a(s: "\\u00") }')})`,
  lex_bad_hex_escape: `graphql.parse_query(${q('{ a(s: "\\uZZZZ") }')})`,
  lex_escaped_backslash_u: `graphql.parse_query(${q('{ a(s: "\\\\uD83D") }')})`,
  lex_surrogate_uppercase_escape: `graphql.parse_query(${q('{ a(s: "x\\uDBFFy\\uDC00") }')})`,
  lex_block_with_escapes: `graphql.parse_query(${q('{ a(s: """a\\nb \\u0041 \\\\ """) }')})`,
  lex_block_only_newlines: `graphql.parse_query(${q('{ a(s: """\n\n\n""") }')})`,
  lex_block_tabs: `graphql.parse_query(${q('{ a(s: """\n\t\tx\n\t  y\n""") }')})`,
  lex_block_unterminated: `graphql.parse_query(${q('{ a(s: """abc) }')})`,
  lex_long_string: `count(graphql.parse_query(concat("", ["{ a(s: \\"", concat("", [sprintf("%d", [i]) | some i in numbers.range(0, 4000)]), "\\") }"])).Operations[0].SelectionSet[0].Arguments[0].Value.Raw)`,
  lex_name_digit_start: `graphql.parse_query(${q('{ 1a }')})`,
  lex_name_underscore: `graphql.parse_query(${q('{ _a __b c_1 }')})`,
  lex_dollar_space: `graphql.parse_query(${q('query ($ a: Int) { f(x: $ a) }')})`,
  lex_at_space: `graphql.parse_query(${q('{ f @ skip(if: true) }')})`,
  lex_nbsp: `graphql.parse_query("{\\u00a0a }")`,
  lex_vertical_tab: `graphql.parse_query("{\\u000ba }")`,
  lex_comment_with_tab_and_unicode: `graphql.parse_query(${q('#\tcomment ✓ 😀\n{ a }')})`,
  lex_cr_only_lines: `graphql.parse_query(${q('query Q {\r# one\r  a\r}')})`,
  lex_empty_comment: `graphql.parse_query(${q('#\nquery Q { a }')})`,
  lex_comments_blank_lines: `graphql.parse_query(${q('# one\n\n# two\nquery Q { a }')})`,
  lex_operation_no_selection: `graphql.parse_query(${q('query Q')})`,
  lex_comment_everywhere: `graphql.parse_query(${q('#a\nquery #b\n Q #c\n ( #d\n $x #e\n : #f\n Int #g\n ) #h\n @d #i\n { #j\n f #k\n ( #l\n a #m\n : #n\n 1 #o\n ) #p\n ... #q\n on #r\n T #s\n { #t\n g #u\n } #v\n ... #w\n F #x\n } #y\n fragment #z\n F on T { h } # end')})`,
  schema_comment_everywhere: `graphql.parse_schema(${q('#a\n"d" #b\n type #c\n T #d\n implements #e\n I #f\n @x #g\n { #h\n "fd" #i\n f #j\n ( #k\n "ad" #l\n a #m\n : Int) #n\n : Int #o\n } #p\n #q\n enum E { #r\n A #s\n } #t\n union #u\n U = #v\n A | B #w\n schema #x\n { #y\n query #z\n : T #0\n } #1\n extend #2\n type T { g: Int } #3\n directive #4\n @d #5\n on #6\n FIELD #7\n')})`,
  schema_description_empty_top: `graphql.parse_schema(${q('# c\n"" type T { a: Int }')})`,
  schema_description_extend: `graphql.parse_schema(${q('"d" extend type T { a: Int }')})`,
  schema_empty_description_extend: `graphql.parse_schema(${q('"" extend type T { a: Int }')})`,
  schema_legacy_implements: `graphql.parse_schema(${q('type T implements A, B { a: Int }')})`,
  schema_implements_amp_first: `graphql.parse_schema(${q('type T implements & A & B { a: Int }')})`,
  schema_union_pipe_first: `graphql.parse_schema(${q('union U = | A | B')})`,
  schema_empty_fields: `graphql.parse_schema(${q('type T {}')})`,
  schema_no_fields: `graphql.parse_schema(${q('type T')})`,
  schema_extend_nothing: `graphql.parse_schema(${q('extend type T')})`,
  schema_extend_schema: `graphql.parse_schema(${q('extend schema @a')})`,
  schema_extend_schema_empty: `graphql.parse_schema(${q('extend schema')})`,
  schema_variable_default: `graphql.parse_schema(${q('type T { a(x: Int = $v): Int }')})`,
  schema_bad_location: `graphql.parse_schema(${q('directive @d on NOWHERE')})`,
  schema_directive_pipe_first: `graphql.parse_schema(${q('directive @d on | FIELD | QUERY')})`,
  schema_repeatable: `graphql.parse_schema(${q('directive @d repeatable on FIELD')})`,
  schema_input_extension_variable: `graphql.parse_schema(${q('extend input I @d(a: $x)')})`,
  schema_operation_type_bad: `graphql.parse_schema(${q('schema { foo: Q }')})`,
  schema_enum_values: `graphql.parse_schema(${q('enum E { A B @deprecated(reason: "no") C }')})`,
  schema_input_defaults: `graphql.parse_schema(${q('input I { a: Int = 1 b: [String!] = ["x"] c: I2 = {x: null} }')})`,

  // Schema validation corners.
  schema_valid_interface_chain: `graphql.schema_is_valid(${q('interface A { x: Int } interface B implements A { x: Int } type Query implements B & A { x: Int }')})`,
  schema_invalid_arg_missing: `graphql.schema_is_valid(${q('interface I { f(a: Int): Int } type Query implements I { f: Int }')})`,
  schema_invalid_arg_type: `graphql.schema_is_valid(${q('interface I { f(a: Int): Int } type Query implements I { f(a: String): Int }')})`,
  schema_invalid_arg_nonnull: `graphql.schema_is_valid(${q('interface I { f(a: Int): Int } type Query implements I { f(a: Int!): Int }')})`,
  schema_valid_arg_nullable_of_nonnull: `graphql.schema_is_valid(${q('interface I { f(a: Int!): Int } type Query implements I { f(a: Int): Int }')})`,
  schema_invalid_extra_required_arg: `graphql.schema_is_valid(${q('interface I { f: Int } type Query implements I { f(b: Int!): Int }')})`,
  schema_valid_extra_default_arg: `graphql.schema_is_valid(${q('interface I { f: Int } type Query implements I { f(b: Int! = 1): Int }')})`,
  schema_valid_covariant_union: `graphql.schema_is_valid(${q('interface I { f: U } union U = Query type Query implements I { f: Query }')})`,
  schema_valid_list_covariance: `graphql.schema_is_valid(${q('interface I { f: [I] } type Query implements I { f: [Query!]! }')})`,
  schema_invalid_list_covariance: `graphql.schema_is_valid(${q('interface I { f: [I] } type Query implements I { f: Query }')})`,
  schema_invalid_implements_object: `graphql.schema_is_valid(${q('type A { x: Int } type Query implements A { x: Int }')})`,
  schema_invalid_duplicate_enum: `graphql.schema_is_valid(${q('enum E { A A } type Query { e: E }')})`,
  schema_invalid_duplicate_member: `graphql.schema_is_valid(${q('union U = Query | Query type Query { u: U }')})`,
  schema_valid_union_no_members: `graphql.schema_is_valid(${q('union U type Query { u: U }')})`,
  schema_invalid_directive_twice: `graphql.schema_is_valid(${q('type Query { a: Int @deprecated @deprecated }')})`,
  schema_valid_type_directive_twice: `graphql.schema_is_valid(${q('directive @d on OBJECT type Query @d @d { a: Int }')})`,
  schema_invalid_directive_self: `graphql.schema_is_valid(${q('directive @d(a: Int @d) on ARGUMENT_DEFINITION type Query { a: Int }')})`,
  schema_invalid_directive_arg_unknown: `graphql.schema_is_valid(${q('type Query { a: Int @deprecated(why: "x") }')})`,
  schema_invalid_directive_null_arg: `graphql.schema_is_valid(${q('scalar D @specifiedBy(url: null) type Query { a: D }')})`,
  schema_invalid_directive_arg_object: `graphql.schema_is_valid(${q('directive @d(a: Query) on FIELD type Query { a: Int }')})`,
  schema_invalid_reserved_type: `graphql.schema_is_valid(${q('type __Q { a: Int } type Query { a: Int }')})`,
  schema_invalid_reserved_arg: `graphql.schema_is_valid(${q('type Query { a(__x: Int): Int }')})`,
  schema_invalid_reserved_directive: `graphql.schema_is_valid(${q('directive @__d on FIELD type Query { a: Int }')})`,
  schema_valid_introspection_type_field: `graphql.schema_is_valid(${q('type Query { t: __Type }')})`,
  schema_invalid_extend_introspection: `graphql.schema_is_valid(${q('extend type __Type { x: Int } type Query { a: Int }')})`,
  schema_valid_extend_scalar: `graphql.schema_is_valid(${q('extend scalar String @specifiedBy(url: "x") type Query { a: String }')})`,
  schema_valid_schema_extension: `graphql.schema_is_valid(${q('type Query { a: Int } type M { b: Int } extend schema { mutation: M }')})`,
  schema_invalid_schema_extension_root: `graphql.schema_is_valid(${q('type Query { a: Int } extend schema { mutation: Nope }')})`,
  schema_invalid_schema_directive: `graphql.schema_is_valid(${q('schema @deprecated { query: Query } type Query { a: Int }')})`,
  schema_valid_output_field_input: `graphql.schema_is_valid(${q('input I { a: Int } type Query { i: I }')})`,
  schema_invalid_enum_empty_extension: `graphql.schema_is_valid(${q('extend enum E @deprecated type Query { a: Int }')})`,
  schema_object_roundtrip_parse: `graphql.parse_schema(${schema}) == graphql.parse(${q('{ version }')}, graphql.parse_schema(${schema}))[1]`,

  // Query validation corners.
  valid_typename_on_union: `graphql.is_valid(${q('{ search { __typename ... on Human { name } ... on Droid { primaryFunction } } }')}, ${schema})`,
  invalid_field_on_union: `graphql.is_valid(${q('{ search { name } }')}, ${schema})`,
  valid_interface_spread_in_union: `graphql.is_valid(${q('{ search { ... on Character { name } } }')}, ${schema})`,
  valid_nested_fragments: `graphql.is_valid(${q('{ hero { ...A } } fragment A on Character { ...B friends { ...B } } fragment B on Character { id }')}, ${schema})`,
  valid_skip_include_variables: `graphql.is_valid(${q('query ($s: Boolean!) { version @skip(if: $s) hero @include(if: $s) { id } }')}, ${schema})`,
  invalid_skip_nullable_variable: `graphql.is_valid(${q('query ($s: Boolean) { version @skip(if: $s) }')}, ${schema})`,
  valid_default_makes_nonnull_ok: `graphql.is_valid(${q('query ($id: ID = "1") { human(id: $id) { id } }')}, ${schema})`,
  valid_defer: `graphql.is_valid(${q('{ hero { ... @defer(label: "x") { id } } }')}, ${schema})`,
  invalid_defer_on_field: `graphql.is_valid(${q('{ hero @defer { id } }')}, ${schema})`,
  invalid_variable_default_type: `graphql.is_valid(${q('query ($e: Episode = "JEDI") { hero(episode: $e) { id } }')}, ${schema})`,
  invalid_list_for_scalar: `graphql.is_valid(${q('{ search(limit: [1]) { __typename } }')}, ${schema})`,
  invalid_float_for_int: `graphql.is_valid(${q('{ search(limit: 1.5) { __typename } }')}, ${schema})`,
  invalid_string_for_int: `graphql.is_valid(${q('{ search(limit: "1") { __typename } }')}, ${schema})`,
  valid_null_for_nullable: `graphql.is_valid(${q('{ search(text: null) { __typename } }')}, ${schema})`,
  invalid_conflicting_fragments: `graphql.is_valid(${q('{ hero { ...A ...B } } fragment A on Character { x: id } fragment B on Character { x: name }')}, ${schema})`,
  valid_same_alias_different_types: `graphql.is_valid(${q('{ search { ... on Human { v: height } ... on Droid { v: primaryFunction } } }')}, ${schema})`,
  invalid_selection_on_introspection_leaf: `graphql.is_valid(${q('{ __typename { x } }')}, ${schema})`,
  invalid_schema_field_nested: `graphql.is_valid(${q('{ hero { __schema { types { name } } } }')}, ${schema})`,
  valid_fragment_variables_legacy: `graphql.is_valid(${q('{ hero { ...F } } fragment F($e: Episode) on Character { id }')}, ${schema})`,
  invalid_mutation_without_root: `graphql.is_valid(${q('mutation { a }')}, "type Query { a: Int }")`,
  valid_custom_root: `graphql.is_valid(${q('{ b }')}, "schema { query: R } type R { b: Int } type Query { a: Int }")`,
  valid_no_query_root_fragment_only: `graphql.is_valid(${q('fragment F on T { a }')}, "type T { a: Int }")`,
  invalid_no_query_root: `graphql.is_valid(${q('{ a }')}, "type T { a: Int }")`,
  valid_scalar_root: `graphql.is_valid(${q('{ a }')}, "schema { query: S } scalar S")`,

  // Objects, read as Go's encoding/json reads them into gqlparser's structs.
  object_kelvin_key: `graphql.schema_is_valid({"Definitions": [{"\u212aind": "OBJECT", "Name": "Query", "Fields": [{"Name": "a", "Type": {"NamedType": "Int"}}]}]})`,
  object_long_s_key: `graphql.parse({"Operations": [{"Operation": "query", "SelectionSet": [{"Alias": "a", "Name": "a"}]}]}, {"Definitions": [{"Kind": "OBJECT", "Name": "Query", "Fields": [{"Name": "a", "Type": {"NamedType": "Int"}}]}], "\u017fchema": []})`,
  object_key_case_last_wins: `graphql.parse({"Operations": [{"Operation": "query", "SelectionSet": [{"Alias": "a", "Name": "a"}]}]}, {"Definitions": [{"Kind": "OBJECT", "Name": "Nope", "name": "Query", "Fields": [{"Name": "a", "Type": {"NamedType": "Int"}}]}]})`,
  object_exact_keys_in_field: `graphql.is_valid({"Operations": [{"Operation": "query", "SelectionSet": [{"name": "version"}]}]}, ${schema})`,
  object_exact_keys_in_operation: `graphql.parse({"operations": [{"operation": "mutation", "selectionSet": [{"Alias": "version", "Name": "version"}]}]}, ${schema})`,
  object_selection_fallbacks: `graphql.parse({"Operations": [{"Operation": "query", "SelectionSet": [{"Alias": "version", "Name": "version"}, {"Name": 5, "SelectionSet": [{"Alias": "version", "Name": "version"}]}, {"Name": 5, "Alias": 5, "TypeCondition": 5}, "x", null]}]}, ${schema})`,
  object_spread_becomes_field: `graphql.parse(graphql.parse_query(${q('{ version ...F } fragment F on Query { version }')}), ${schema})`,
  object_wrong_kind_type: `graphql.parse({"Operations": [{"Operation": "query", "SelectionSet": [{"Alias": "s", "Name": "search", "Arguments": [{"Name": "limit", "Value": {"Kind": "1", "Raw": "1"}}], "SelectionSet": [{"Alias": "t", "Name": "__typename"}]}]}]}, ${schema})`,
  object_value_kinds: `graphql.parse({"Operations": [{"Operation": "query", "SelectionSet": [{"Alias": "s", "Name": "search", "Arguments": [{"Name": "limit", "Value": {"Kind": 1, "Raw": "7"}}, {"Name": "text", "Value": {"Kind": 3, "Raw": "x", "Comment": {"List": [{"Value": "# kept"}]}}}], "SelectionSet": [{"Alias": "__typename", "Name": "__typename"}]}]}]}, ${schema})`,
  object_variable_definitions: `graphql.is_valid({"Operations": [{"Operation": "query", "VariableDefinitions": [{"Variable": "e", "Type": {"NamedType": "Episode"}}], "SelectionSet": [{"Alias": "hero", "Name": "hero", "Arguments": [{"Name": "episode", "Value": {"Kind": 0, "Raw": "e"}}], "SelectionSet": [{"Alias": "id", "Name": "id"}]}]}]}, ${schema})`,
  object_empty_alias_conflict: `graphql.is_valid({"Operations": [{"Operation": "query", "SelectionSet": [{"Name": "version"}, {"Name": "hero", "SelectionSet": [{"Name": "id"}]}]}]}, ${schema})`,
  object_positions_checked: `graphql.is_valid({"Operations": [{"Operation": "query", "Position": {"Line": "x"}, "SelectionSet": [{"Alias": "version", "Name": "version"}]}]}, ${schema})`,
  object_positions_ignored: `graphql.is_valid({"Operations": [{"Operation": "query", "Position": {"Line": 1, "Src": {"Name": "x"}}, "SelectionSet": [{"Alias": "version", "Name": "version", "Position": null}]}]}, ${schema})`,
  object_schema_with_extension: `graphql.is_valid(${q('{ version extra }')}, object.union(graphql.parse_schema(${schema}), {"Extensions": [{"Kind": "OBJECT", "Name": "Query", "Fields": [{"Name": "extra", "Type": {"NamedType": "Int"}}]}]}))`,
  object_schema_bad_kind: `graphql.schema_is_valid({"Definitions": [{"Kind": 5, "Name": "Query"}]})`,
  object_schema_strings_nulls: `graphql.schema_is_valid({"Definitions": [{"Kind": "UNION", "Name": "U", "Types": [null]}, {"Kind": "OBJECT", "Name": "Query", "Fields": [{"Name": "u", "Type": {"NamedType": "U"}}]}]})`,
  object_default_null_children: `graphql.schema_is_valid({"Definitions": [{"Kind": "OBJECT", "Name": "Query", "Fields": [{"Name": "a", "Type": {"NamedType": "Int"}, "Arguments": [{"Name": "l", "Type": {"Elem": {"NamedType": "Int"}}, "DefaultValue": {"Kind": 8, "Children": [null, {"Name": "k"}]}}]}]}]})`,
  object_default_null_children_query: `graphql.is_valid("{ a }", {"Definitions": [{"Kind": "OBJECT", "Name": "Query", "Fields": [{"Name": "a", "Type": {"NamedType": "Int"}, "Arguments": [{"Name": "l", "Type": {"Elem": {"NamedType": "Int"}}, "DefaultValue": {"Kind": 9, "Children": [{"Name": "k"}]}}]}]}]})`,
  object_parse_and_verify: `graphql.parse_and_verify({"Operations": [{"Operation": "query", "SelectionSet": [{"Alias": "v", "Name": "version"}]}]}, graphql.parse_schema(${schema}))`,

  // Large documents, built by the policy (as data in the module they would outgrow opa-wasm's default memory).
  large_schema: {
    body: 'types := concat("\\n", [sprintf("type T%d { f%d(a: Int = %d): [T%d!] @deprecated }", [i, i, i, (i + 1) % 400]) | some i in numbers.range(0, 399)]); x := count(graphql.parse_schema(concat("\\n", [types, "type Query { t: T0 }"])).Definitions)',
  },
  large_schema_valid: {
    body: 'types := concat("\\n", [sprintf("type T%d { f%d(a: Int = %d): [T%d!] @deprecated }", [i, i, i, (i + 1) % 400]) | some i in numbers.range(0, 399)]); x := graphql.schema_is_valid(concat("\\n", [types, "type Query { t: T0 }"]))',
  },
  large_query_parse: {
    body: `fields := concat(" ", [sprintf("s%d: search(text: $t, limit: %d) { ... on Human { id } }", [i, i]) | some i in numbers.range(0, 799)]); x := graphql.parse(concat("", ["query ($t: String) { ", fields, " }"]), ${schema})[0].Operations[0].SelectionSet[799]`,
  },
  large_query_arguments: {
    body: 'arguments := concat(", ", [sprintf("x%d: [%d, \\"%d\\", {k: ENUM}]", [i, i, i]) | some i in numbers.range(0, 1499)]); x := count(graphql.parse_query(concat("", ["{ a(", arguments, ") }"])).Operations[0].SelectionSet[0].Arguments)',
  },
  // More of the query rules, where graphql-js and gqlparser could part.
  rule_subscription_typename: `graphql.is_valid(${q('subscription { __typename }')}, "type Query { a: Int } type Subscription { a: Int }")`,
  rule_subscription_fragment_two: `graphql.is_valid(${q('subscription { ...F } fragment F on Subscription { a b }')}, "type Query { a: Int } type Subscription { a: Int b: Int }")`,
  rule_subscription_skip: `graphql.is_valid(${q('subscription { a @skip(if: true) }')}, "type Query { a: Int } type Subscription { a: Int }")`,
  rule_unused_fragment_chain: `graphql.is_valid(${q('{ version } fragment A on Query { ...B } fragment B on Query { version }')}, ${schema})`,
  rule_directive_unknown_argument: `graphql.is_valid(${q('{ version @skip(if: true, unless: false) }')}, ${schema})`,
  rule_directive_missing_argument: `graphql.is_valid(${q('{ version @include }')}, ${schema})`,
  rule_directive_wrong_type: `graphql.is_valid(${q('{ version @include(if: "yes") }')}, ${schema})`,
  rule_enum_leaf: `graphql.is_valid(${q('{ hero(episode: JEDI) { id } }')}, ${schema})`,
  rule_interface_spread_on_interface: `graphql.is_valid(${q('{ hero { ... on Character { ... on Human { height } } } }')}, ${schema})`,
  rule_union_spread_on_interface: `graphql.is_valid(${q('{ hero { ...S } } fragment S on SearchResult { __typename }')}, ${schema})`,
  rule_union_spread_disjoint: `graphql.is_valid(${q('{ search { ... on Query { version } } }')}, ${schema})`,
  rule_list_variable_into_scalar: `graphql.is_valid(${q('query ($l: [Int]) { search(limit: $l) { __typename } }')}, ${schema})`,
  rule_scalar_variable_into_list: `graphql.is_valid(${q('query ($e: Episode!) { node(filter: {name: "x", episodes: $e}) { id } }')}, ${schema})`,
  rule_nullable_variable_into_list_item: `graphql.is_valid(${q('query ($e: Episode) { node(filter: {name: "x", episodes: [$e]}) { id } }')}, ${schema})`,
  rule_variable_in_input_object: `graphql.is_valid(${q('query ($n: String!) { node(filter: {name: $n}) { id } }')}, ${schema})`,
  rule_nullable_variable_into_input_field: `graphql.is_valid(${q('query ($n: String) { node(filter: {name: $n}) { id } }')}, ${schema})`,
  rule_nullable_variable_default_into_nonnull: `graphql.is_valid(${q('query ($n: String = "x") { node(filter: {name: $n}) { id } }')}, ${schema})`,
  rule_variable_null_default: `graphql.is_valid(${q('query ($id: ID = null) { human(id: $id) { id } }')}, ${schema})`,
  rule_variable_used_in_fragment: `graphql.is_valid(${q('query ($id: ID!) { ...F } fragment F on Query { human(id: $id) { id } }')}, ${schema})`,
  rule_variable_undefined_in_fragment: `graphql.is_valid(${q('query A { ...F } fragment F on Query { human(id: $id) { id } }')}, ${schema})`,
  rule_variable_unused_in_one_operation: `graphql.is_valid(${q('query A($id: ID!) { ...F } query B($id: ID!) { version } fragment F on Query { human(id: $id) { id } }')}, ${schema})`,
  rule_overlap_nested_args: `graphql.is_valid(${q('{ hero { friends { name } } hero { friends { name: id } } }')}, ${schema})`,
  rule_overlap_nested_same: `graphql.is_valid(${q('{ hero { friends { name } } hero { friends { id } } }')}, ${schema})`,
  rule_overlap_shape_list: `graphql.is_valid(${q('{ search { ... on Human { f: friends { id } } ... on Droid { f: id } } }')}, ${schema})`,
  rule_overlap_different_args_variables: `graphql.is_valid(${q('query ($a: Int, $b: Int) { search(limit: $a) { __typename } search(limit: $b) { __typename } }')}, ${schema})`,
  rule_overlap_same_args_order: `graphql.is_valid(${q('{ search(limit: 1, text: "a") { __typename } search(text: "a", limit: 1) { __typename } }')}, ${schema})`,
  rule_overlap_directives_differ: `graphql.is_valid(${q('{ version @skip(if: true) version @include(if: true) }')}, ${schema})`,
  rule_overlap_fragment_vs_field: `graphql.is_valid(${q('{ hero { ...F name: id } } fragment F on Character { name }')}, ${schema})`,
  rule_overlap_parent_types_differ: `graphql.is_valid(${q('{ search { ... on Human { x: name } ... on Droid { x: primaryFunction } } }')}, ${schema})`,
  rule_overlap_nonnull_vs_nullable: `graphql.is_valid(${q('{ hero { ... on Human { x: id } ... on Droid { x: name } } }')}, ${schema})`,
  rule_introspection_depth_fragments: `graphql.is_valid(${q('{ __schema { types { ...T } } } fragment T on __Type { fields { type { ...U } } } fragment U on __Type { fields { type { fields { name } } } }')}, ${schema})`,
  rule_introspection_depth_ok: `graphql.is_valid(${q('{ __schema { types { fields { type { name ofType { ofType { name } } } } } } }')}, ${schema})`,
  rule_introspection_interfaces: `graphql.is_valid(${q('{ __type(name: "Human") { interfaces { interfaces { interfaces { interfaces { name } } } } } }')}, ${schema})`,
  rule_one_of_variable: `graphql.is_valid(${q('query ($x: Int) { a(o: {x: $x}) }')}, "input O @oneOf { x: Int y: Int } type Query { a(o: O): Int }")`,
  rule_one_of_null: `graphql.is_valid(${q('{ a(o: {x: null}) }')}, "input O @oneOf { x: Int y: Int } type Query { a(o: O): Int }")`,
  rule_input_default_missing_required: `graphql.is_valid(${q('{ a(i: {}) }')}, "input I { x: Int! = 1 } type Query { a(i: I): Int }")`,
  rule_float_for_id: `graphql.is_valid(${q('{ human(id: 1.5) { id } }')}, ${schema})`,
  rule_negative_for_float: `graphql.is_valid(${q('{ hero { ... on Human { height(unit: METER) } } a: search(limit: -2147483648) { __typename } }')}, ${schema})`,
  rule_enum_in_list: `graphql.is_valid(${q('{ node(filter: {name: "x", episodes: [JEDI, NOPE]}) { id } }')}, ${schema})`,
  rule_block_string_for_string: `graphql.is_valid(${q('{ search(text: """x""") { __typename } }')}, ${schema})`,
  rule_typename_on_scalar: `graphql.is_valid(${q('{ version { __typename } }')}, ${schema})`,
  rule_field_on_interface_not_object: `graphql.is_valid(${q('{ hero { height } }')}, ${schema})`,
  rule_mutation_root_field_name: `graphql.is_valid(${q('mutation { version }')}, ${schema})`,
  rule_enum_for_string: `graphql.is_valid(${q('{ search(text: JEDI) { __typename } }')}, ${schema})`,
  rule_object_for_scalar: `graphql.is_valid(${q('{ search(limit: {a: 1}) { __typename } }')}, ${schema})`,
  rule_list_for_input_object: `graphql.is_valid(${q('{ node(filter: [{name: "x"}]) { id } }')}, ${schema})`,
  rule_null_in_nonnull_list: `graphql.is_valid(${q('{ node(filter: {name: "x", episodes: [JEDI, null]}) { id } }')}, ${schema})`,
  rule_nested_list_for_list: `graphql.is_valid(${q('{ node(filter: {name: "x", episodes: [[JEDI]]}) { id } }')}, ${schema})`,
  rule_boolean_for_enum: `graphql.is_valid(${q('{ hero(episode: true) { id } }')}, ${schema})`,
  rule_null_for_enum: `graphql.is_valid(${q('{ hero(episode: null) { id } }')}, ${schema})`,
  rule_custom_scalar_variable_into_int: `graphql.is_valid(${q('query ($d: D) { a(i: $d) }')}, "scalar D type Query { a(i: Int): Int }")`,
  rule_int_variable_into_float: `graphql.is_valid(${q('query ($i: Int) { a(f: $i) }')}, "type Query { a(f: Float): Int }")`,
  rule_nonnull_list_variable: `graphql.is_valid(${q('query ($l: [Int!]!) { a(l: $l) }')}, "type Query { a(l: [Int]): Int }")`,
  rule_nullable_list_items_variable: `graphql.is_valid(${q('query ($l: [Int]) { a(l: $l) }')}, "type Query { a(l: [Int!]): Int }")`,
  rule_default_value_list_coercion: `graphql.is_valid(${q('query ($l: [Int] = 1) { a(l: $l) }')}, "type Query { a(l: [Int]): Int }")`,
  rule_default_value_object: `graphql.is_valid(${q('query ($o: I = {k: [1, 2]}) { a(o: $o) { b } }')}, "${SCHEMA_SMALL}")`,
  rule_default_value_object_bad: `graphql.is_valid(${q('query ($o: I = {k: ["x"]}) { a(o: $o) { b } }')}, "${SCHEMA_SMALL}")`,
  rule_deprecated_field_used: `graphql.is_valid(${q('{ old }')}, "type Query { old: Int @deprecated(reason: \\"no\\") }")`,
  rule_deprecated_enum_value_used: `graphql.is_valid(${q('{ a(e: OLD) }')}, "enum E { OLD @deprecated NEW } type Query { a(e: E): Int }")`,
  rule_interface_field_args: `graphql.is_valid(${q('{ hero { ... on Human { height(unit: FOOT) } } }')}, ${schema})`,
  rule_typename_alias_conflict: `graphql.is_valid(${q('{ __typename: version }')}, ${schema})`,
  rule_typename_alias_conflict_two: `graphql.is_valid(${q('{ __typename x: __typename x: version }')}, ${schema})`,
  rule_anonymous_and_fragment: `graphql.is_valid(${q('{ ...F } fragment F on Query { version }')}, ${schema})`,
  rule_operation_name_same_as_fragment: `graphql.is_valid(${q('query F { ...F } fragment F on Query { version }')}, ${schema})`,

  // parse and parse_and_verify.
  parse: `graphql.parse(${q('query ($e: Episode) { hero(episode: $e) { name } }')}, ${schema})`,
  parse_invalid: `graphql.parse(${q('{ nope }')}, ${schema})`,
  parse_bad_schema: `graphql.parse(${q('{ a }')}, "type Query { a: Nope }")`,
  parse_object_schema: `graphql.parse(${q('{ version }')}, graphql.parse_schema(${schema}))`,
  parse_object_query: `graphql.parse(graphql.parse_query(${q('{ hero { name ...F } } fragment F on Character { id }')}), ${schema})`,
  parse_object_query_valid: `graphql.parse(graphql.parse_query(${q('query Q($e: Episode = JEDI) { a: hero(episode: $e) @include(if: true) { name } }')}), ${schema})`,
  parse_object_weird: `graphql.parse({"operations": [{"Operation": "query", "SelectionSet": [{"Name": "version", "Comment": {"List": [{"Value": "# x"}]}}, null, 5]}]}, ${schema})`,
  parse_and_verify: `graphql.parse_and_verify(${q('{ hero { name } }')}, ${schema})`,
  parse_and_verify_invalid: `graphql.parse_and_verify(${q('{ hero }')}, ${schema})`,
  parse_and_verify_bad_type: `graphql.parse_and_verify(input.number, input.numbers)`,
  parse_and_verify_comments: `graphql.parse_and_verify(${q('# c\n{ version }')}, ${q('# s\ntype Query { version: String }\n# end')})`,
};
