// The rules library's input writer: the document policies/rules/authz.rego is given instead of the full one
// (policies/rules/README.md, "Input"): only the keys it reads and, of the headers, query parameters and
// context extensions, `:authority` and the names the rules' `when` conditions test.
import type { InputExtensions, InputWriter } from '../check/input.js';
import type { Attributes } from '../envoy/types.js';
import type { CompiledRules } from './types.js';

/** What the rules of one file read of a request. */
export interface RulesInputNames {
  /** Header names, lowercase (the rules library looks headers up lowercased). */
  readonly headers: ReadonlySet<string>;
  readonly query: ReadonlySet<string>;
  readonly context: ReadonlySet<string>;
}

/**
 * What the rules library reads of the request's headers, query and context extensions : `:authority` (the host when Envoy sends none) and the names of every `when` condition.
 */
export function rulesInputNamesOf(compiled: CompiledRules): RulesInputNames {
  const headers = new Set<string>([':authority']);
  const query = new Set<string>();
  const context = new Set<string>();
  for (const set of [...Object.values(compiled.by_destination), compiled.any_destination]) {
    for (const rule of [...set.allow, ...set.deny]) {
      for (const condition of rule.when) {
        if (condition.key === 'request.headers') headers.add(condition.name.toLowerCase());
        else if (condition.key === 'request.query') query.add(condition.name);
        else if (condition.key === 'context') context.add(condition.name);
      }
    }
  }
  return { headers, query, context };
}

/** The writer the rules library's policy is handed (check/input.ts calls it in place of the full document). */
export function createRulesInputWriter(names: RulesInputNames): InputWriter {
  return Object.freeze({
    queryNames: names.query,
    write: (attributes: Attributes, parsedQueryJson: string, extensions: InputExtensions | undefined): string => rulesInputJson(attributes, names, parsedQueryJson, extensions),
  });
}

/**
 * The rules library's document: the keys policies/rules/authz.rego reads, in the full document's places
 * (test/unit/rules/input.test.ts checks every `input.` reference of the Rego against it).
 */
function rulesInputJson(attributes: Attributes, names: RulesInputNames, parsedQueryJson: string, extensions: InputExtensions | undefined): string {
  const http = attributes.request?.http;
  let request = '';
  if (http !== undefined) {
    let fields = '';
    if (http.method !== undefined) fields += ',"method":' + JSON.stringify(http.method);
    if (http.path !== undefined) fields += ',"path":' + JSON.stringify(http.path);
    if (http.host !== undefined) fields += ',"host":' + JSON.stringify(http.host);
    if (http.headers !== undefined) fields += ',"headers":' + pickJson(http.headers, names.headers);
    request = '"request":{"http":{' + fields.slice(1) + '}}';
  }
  const extensionsOf = attributes.contextExtensions;
  const context = extensionsOf === undefined ? '' : '"contextExtensions":' + pickJson(extensionsOf, names.context);
  let json = '{"attributes":{' + request + (request !== '' && context !== '' ? ',' : '') + context + '},"parsed_query":' + parsedQueryJson;
  if (extensions) {
    json += ',"source":' + rulesPeerJson(extensions.source as RulesPeer) + ',"destination":' + rulesPeerJson(extensions.destination as RulesPeer);
    if (extensions.jwt !== undefined) json += ',"jwt":' + JSON.stringify(extensions.jwt);
  }
  return json + '}';
}

// Up to this many names, each is looked up; a file naming more has the request's entries looked up instead.
const FEW_NAMES = 16;

/** JSON of the entries of `values` named in `names` (own entries only, so `__proto__` is just a name). */
function pickJson(values: Record<string, string>, names: ReadonlySet<string>): string {
  let json = '';
  for (const name of names.size <= FEW_NAMES ? names : Object.keys(values)) {
    if (names.has(name) && Object.hasOwn(values, name)) json += (json === '' ? '{' : ',') + JSON.stringify(name) + ':' + JSON.stringify(values[name]);
  }
  return json === '' ? '{}' : json + '}';
}

/** The identity keys the rules library reads (identity/identity.ts PeerIdentity has them all). */
interface RulesPeer {
  spiffe_id: string | null;
  trust_domain: string | null;
  namespace: string | null;
  service_account: string | null;
  local: boolean;
  authenticated: boolean;
  port: number | null;
}

/** `JSON.stringify` of those keys, without building the object first. */
function rulesPeerJson(peer: RulesPeer): string {
  return (
    '{"spiffe_id":' +
    JSON.stringify(peer.spiffe_id) +
    ',"trust_domain":' +
    JSON.stringify(peer.trust_domain) +
    ',"namespace":' +
    JSON.stringify(peer.namespace) +
    ',"service_account":' +
    JSON.stringify(peer.service_account) +
    ',"local":' +
    (peer.local ? 'true' : 'false') +
    ',"authenticated":' +
    (peer.authenticated ? 'true' : 'false') +
    ',"port":' +
    JSON.stringify(peer.port) +
    '}'
  );
}
