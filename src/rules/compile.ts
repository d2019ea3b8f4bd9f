// Parsed rules → the compiled data document (`data.meshwarden.rules`) the Rego evaluator reads.
import type { TrustDomains } from '../identity/spiffe.js';
import { ANY_PRINCIPAL } from './parse.js';
import type {
  CompiledCondition,
  CompiledOperation,
  CompiledRule,
  CompiledRules,
  CompiledRuleSet,
  CompiledSource,
  Rule,
  RulesFile,
} from './types.js';

/** Istio's pointer: in policies, `cluster.local` means "the local trust domain and its aliases". */
export const CLUSTER_LOCAL = 'cluster.local';

const SCHEME = 'spiffe://';

function unique<T>(values: Iterable<T>): T[] {
  return [...new Set(values)];
}

/**
 * The trust domains a written one stands for. `cluster.local`, the local trust domain and each alias all stand for
 * the local trust domain plus every alias (Istio's `ReplaceTrustDomainAliases`); any other name stands for itself.
 */
export function expandTrustDomain(name: string, trustDomains: TrustDomains): string[] {
  if (name === CLUSTER_LOCAL || trustDomains.isLocal(name)) return unique([trustDomains.local, ...trustDomains.aliases]);
  return [name];
}

/** A principal as written (`td/ns/x/sa/y`) → full SPIFFE IDs, one per trust domain it stands for. */
export function expandPrincipal(principal: string, trustDomains: TrustDomains): string[] {
  const slash = principal.indexOf('/');
  const trustDomain = slash === -1 ? principal : principal.slice(0, slash);
  const path = slash === -1 ? '' : principal.slice(slash);
  return expandTrustDomain(trustDomain, trustDomains).map((name) => SCHEME + name + path);
}

function compileSource(source: Rule['from'][number], trustDomains: TrustDomains): CompiledSource {
  const principals = (list: readonly string[]) => unique(list.flatMap((principal) => expandPrincipal(principal, trustDomains)));
  const domains = (list: readonly string[]) => unique(list.flatMap((name) => expandTrustDomain(name, trustDomains)));
  const compiled: CompiledSource = {
    principals: principals(source.principals.filter((principal) => principal !== ANY_PRINCIPAL)),
    not_principals: principals(source.notPrincipals.filter((principal) => principal !== ANY_PRINCIPAL)),
    namespaces: unique(source.namespaces),
    not_namespaces: unique(source.notNamespaces),
    service_accounts: unique(source.serviceAccounts),
    not_service_accounts: unique(source.notServiceAccounts),
    trust_domains: domains(source.trustDomains),
    not_trust_domains: domains(source.notTrustDomains),
  };
  // `*` = any authenticated caller. The contract has no wildcard principal, so it is written with what it has:
  // principals drop their constraint (the `*` admits them all) and, unless trust domains already demand an
  // identity, trust_domains lists every accepted one, which is exactly what `authenticated` means.
  const accepted = () => unique([trustDomains.local, ...trustDomains.aliases, ...trustDomains.federated]);
  if (source.principals.includes(ANY_PRINCIPAL)) {
    compiled.principals = [];
    if (compiled.trust_domains.length === 0) compiled.trust_domains = accepted();
  }
  // `notPrincipals: ["*"]` (DENY rules only, parse.ts) = every caller without an identity: no accepted trust
  // domain. An absent identity satisfies a negative field of a DENY rule; an authenticated caller has one of
  // these trust domains.
  if (source.notPrincipals.includes(ANY_PRINCIPAL)) compiled.not_trust_domains = unique([...compiled.not_trust_domains, ...accepted()]);
  return compiled;
}

function compileOperation(operation: Rule['operations'][number]): CompiledOperation {
  const matchers = <T>(list: readonly T[]) => unique(list.map((matcher) => JSON.stringify(matcher))).map((text) => JSON.parse(text) as T);
  return {
    methods: unique(operation.methods),
    not_methods: unique(operation.notMethods),
    paths: matchers(operation.paths),
    not_paths: matchers(operation.notPaths),
    hosts: matchers(operation.hosts),
    not_hosts: matchers(operation.notHosts),
    ports: unique(operation.ports),
    not_ports: unique(operation.notPorts),
  };
}

function compileCondition(condition: Rule['when'][number]): CompiledCondition {
  return { key: condition.key, name: condition.name, values: unique(condition.values), not_values: unique(condition.notValues) };
}

/** One rule in the contract's shape; `to` is not part of it (it decides where the rule is indexed). */
export function compileRule(rule: Rule, trustDomains: TrustDomains): CompiledRule {
  return {
    name: rule.name,
    action: rule.action,
    shadow: rule.shadow,
    from: rule.from.map((source) => compileSource(source, trustDomains)),
    operations: rule.operations.map(compileOperation),
    when: rule.when.map(compileCondition),
  };
}

/** The destination keys a rule is indexed under; [] for a rule without `to` (it goes to any_destination). */
export function destinationKeys(rule: Rule, trustDomains: TrustDomains): string[] {
  if (rule.to === undefined) return [];
  return unique([
    ...rule.to.principals.flatMap((principal) => expandPrincipal(principal, trustDomains)).map((id) => `principal:${id}`),
    ...rule.to.namespaces.map((namespace) => `namespace:${namespace}`),
    ...rule.to.serviceAccounts.map((account) => `service_account:${account}`),
  ]);
}

/**
 * The compiled document (`data.meshwarden.rules`). Deterministic: destination keys sorted, rules in file order
 * within each list, list values in the order written with duplicates dropped.
 */
export function compileRules(rules: RulesFile, trustDomains: TrustDomains): CompiledRules {
  const byDestination = new Map<string, CompiledRuleSet>();
  const anyDestination: CompiledRuleSet = { allow: [], deny: [] };
  for (const rule of rules.rules) {
    const compiled = compileRule(rule, trustDomains);
    const list = rule.action === 'ALLOW' ? 'allow' : 'deny';
    const keys = destinationKeys(rule, trustDomains);
    if (keys.length === 0) anyDestination[list].push(compiled);
    for (const key of keys) {
      let set = byDestination.get(key);
      if (set === undefined) byDestination.set(key, (set = { allow: [], deny: [] }));
      set[list].push(compiled);
    }
  }
  const sortedKeys = [...byDestination.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    default_allow: rules.default === 'allow',
    by_destination: Object.fromEntries(sortedKeys.map((key) => [key, byDestination.get(key)!])),
    any_destination: anyDestination,
  };
}

/** The whole data document for the evaluator: `{"meshwarden": {"rules": …}}`. */
export function toDataDocument(compiled: CompiledRules): { meshwarden: { rules: CompiledRules } } {
  return { meshwarden: { rules: compiled } };
}
