// The shapes of the rules library: a parsed rules file (what operators write) and the compiled data document
// (`data.meshwarden.rules`, policies/rules/README.md) that the Rego evaluator reads.

export type RuleAction = 'ALLOW' | 'DENY';

/** A path or host pattern: `exact`, `prefix*`, `*suffix` or `*`. */
export type Matcher = { exact: string } | { prefix: string } | { suffix: string } | { any: true };

/** The four `when` key forms: `request.headers[NAME]`, `request.query[NAME]`, `jwt.claims[NAME]`, `context[NAME]`. */
export type ConditionKey = 'request.headers' | 'request.query' | 'jwt.claims' | 'context';

/** `to`: the destination workload. Principals as written (no `spiffe://`, `cluster.local` not yet expanded). */
export interface RuleDestination {
  readonly principals: readonly string[];
  readonly namespaces: readonly string[];
  readonly serviceAccounts: readonly string[];
  readonly line: number;
}

/** One `from` entry; an omitted field is an empty list (writing an empty list is an error, so the two never mix). */
export interface RuleSource {
  readonly principals: readonly string[];
  readonly notPrincipals: readonly string[];
  readonly namespaces: readonly string[];
  readonly notNamespaces: readonly string[];
  readonly serviceAccounts: readonly string[];
  readonly notServiceAccounts: readonly string[];
  readonly trustDomains: readonly string[];
  readonly notTrustDomains: readonly string[];
  readonly line: number;
}

/** One `operations` entry; paths and hosts are already matchers (hosts normalised). */
export interface RuleOperation {
  readonly methods: readonly string[];
  readonly notMethods: readonly string[];
  readonly paths: readonly Matcher[];
  readonly notPaths: readonly Matcher[];
  readonly hosts: readonly Matcher[];
  readonly notHosts: readonly Matcher[];
  readonly ports: readonly number[];
  readonly notPorts: readonly number[];
  readonly line: number;
}

export interface RuleCondition {
  readonly key: ConditionKey;
  /** Header names are lowercased (Envoy hands them over lowercased); other names are kept as written. */
  readonly name: string;
  readonly values: readonly string[];
  readonly notValues: readonly string[];
  readonly line: number;
}

export interface Rule {
  readonly name: string;
  readonly action: RuleAction;
  readonly shadow: boolean;
  /** undefined = every destination. */
  readonly to: RuleDestination | undefined;
  /** [] = every source. */
  readonly from: readonly RuleSource[];
  /** [] = every operation. */
  readonly operations: readonly RuleOperation[];
  /** [] = always holds. */
  readonly when: readonly RuleCondition[];
  /** Line of the rule's first key, for messages. */
  readonly line: number;
}

export interface RulesFile {
  /** The file name used in messages (`rules.yaml:12: …`). */
  readonly source: string;
  readonly default: 'allow' | 'deny';
  /** Line of the `default` key, or undefined when it is not written. */
  readonly defaultLine: number | undefined;
  readonly rules: readonly Rule[];
}

// ---- The compiled document (data.meshwarden.rules), exactly as the contract names its fields ----

export interface CompiledSource {
  principals: string[];
  not_principals: string[];
  namespaces: string[];
  not_namespaces: string[];
  service_accounts: string[];
  not_service_accounts: string[];
  trust_domains: string[];
  not_trust_domains: string[];
}

export interface CompiledOperation {
  methods: string[];
  not_methods: string[];
  paths: Matcher[];
  not_paths: Matcher[];
  hosts: Matcher[];
  not_hosts: Matcher[];
  ports: number[];
  not_ports: number[];
}

export interface CompiledCondition {
  key: ConditionKey;
  name: string;
  values: string[];
  not_values: string[];
}

export interface CompiledRule {
  name: string;
  action: RuleAction;
  shadow: boolean;
  from: CompiledSource[];
  operations: CompiledOperation[];
  when: CompiledCondition[];
}

export interface CompiledRuleSet {
  allow: CompiledRule[];
  deny: CompiledRule[];
}

export interface CompiledRules {
  default_allow: boolean;
  /** Keys `principal:spiffe://…`, `namespace:<ns>`, `service_account:<ns>/<sa>`, in sorted order. */
  by_destination: Record<string, CompiledRuleSet>;
  any_destination: CompiledRuleSet;
}
