// Builtins a policy may need that meshwarden deliberately does not provide, each with the reason.

/**
 * A bundle that calls one of these is refused when it is loaded (see unprovidedBuiltins), naming the builtin,
 * rather than failing or going undefined on every evaluation.
 */
export const REFUSED_BUILTINS: Readonly<Record<string, string>> = Object.freeze({
  'http.send':
    'network I/O: opa-wasm calls builtins synchronously from inside wasm, so a request would block the event loop for every check',
  'net.lookup_ip_addr':
    'network I/O (DNS): opa-wasm calls builtins synchronously from inside wasm, so a lookup would block the event loop for every check',
  assign: 'the := operator called as a function; OPA has no implementation either (opa eval: "unsupported built-in: assign")',
  'internal.test_case': 'only meaningful under `opa test`',
  'rego.parse_module': "needs OPA's Rego parser and its AST JSON; there is no faithful JavaScript implementation",
  'strings.render_template':
    "Go's text/template language; there is no faithful, well-kept JavaScript implementation (npm's candidates: @ctrl/golang-template handles a basic subset and warns it is not safe for user input, gotemplate-node transpiles to JavaScript run with eval, @mdfriday/text-template and @evertdespiegeleer/go-template are little-used)",
});
