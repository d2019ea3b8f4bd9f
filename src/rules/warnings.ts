// Warnings for rules that are valid but deserve a second look in review: they widen access or can never match.
import type { TrustDomains } from '../identity/spiffe.js';
import { CLUSTER_LOCAL } from './compile.js';
import { ANY_PRINCIPAL } from './parse.js';
import type { Rule, RuleSource, RulesFile } from './types.js';

export interface RuleWarning {
  readonly line: number;
  /** The rule's name; undefined for a file-level warning (`default: allow`). */
  readonly rule: string | undefined;
  readonly message: string;
}

/** `rules.yaml:12: warning: rule "x": …`, the shape of the validation errors with a `warning:` mark. */
export function formatWarning(source: string, warning: RuleWarning): string {
  const scope = warning.rule === undefined ? '' : `rule "${warning.rule}": `;
  return `${source}:${warning.line}: warning: ${scope}${warning.message}`;
}

function hasPositiveIdentity(source: RuleSource): boolean {
  return (
    source.principals.some((principal) => principal !== ANY_PRINCIPAL) ||
    source.namespaces.length > 0 ||
    source.serviceAccounts.length > 0 ||
    source.trustDomains.length > 0
  );
}

function trustDomainOf(principal: string): string {
  const slash = principal.indexOf('/');
  return slash === -1 ? principal : principal.slice(0, slash);
}

/** True when a written trust domain can name an accepted caller (`cluster.local` is the local pointer). */
function isAcceptedName(name: string, trustDomains: TrustDomains): boolean {
  return name === CLUSTER_LOCAL || trustDomains.isAccepted(name);
}

function warnSources(rule: Rule, trustDomains: TrustDomains, push: (line: number, message: string) => void): void {
  rule.from.forEach((source, index) => {
    const where = `from[${index}]`;
    for (const [field, list] of [
      ['principals', source.principals],
      ['notPrincipals', source.notPrincipals],
    ] as const) {
      for (const principal of list) {
        if (principal === ANY_PRINCIPAL) continue;
        const name = trustDomainOf(principal);
        if (!isAcceptedName(name, trustDomains)) {
          push(source.line, `${where}.${field}: "${principal}" is in trust domain "${name}", which is neither local, an alias nor federated: no caller can have it, so it never matches`);
        }
      }
    }
    for (const [field, list] of [
      ['trustDomains', source.trustDomains],
      ['notTrustDomains', source.notTrustDomains],
    ] as const) {
      for (const name of list) {
        if (!isAcceptedName(name, trustDomains)) {
          push(source.line, `${where}.${field}: trust domain "${name}" is neither local, an alias nor federated: no caller can be in it, so it never matches`);
        }
      }
    }
    if (rule.action !== 'ALLOW') return;
    if (!hasPositiveIdentity(source)) {
      const why = source.principals.includes(ANY_PRINCIPAL) ? 'principals "*" admits' : 'it has no principals, namespaces, serviceAccounts or trustDomains, so it admits';
      push(source.line, `${where}: wildcard source: ${why} every authenticated caller${hasNegative(source) ? ' not excluded by its not* fields' : ''}`);
    }
  });
}

function hasNegative(source: RuleSource): boolean {
  return source.notPrincipals.length + source.notNamespaces.length + source.notServiceAccounts.length + source.notTrustDomains.length > 0;
}

/** Every warning for a parsed rules file, in file order. */
export function findRuleWarnings(rules: RulesFile, trustDomains: TrustDomains): RuleWarning[] {
  const warnings: RuleWarning[] = [];
  if (rules.default === 'allow') {
    warnings.push({
      line: rules.defaultLine ?? 1,
      rule: undefined,
      message: 'default: allow lets every request through at destinations that have no ALLOW rule',
    });
  }
  for (const rule of rules.rules) {
    const push = (line: number, message: string) => warnings.push({ line, rule: rule.name, message });
    if (rule.to !== undefined) {
      for (const principal of rule.to.principals) {
        const name = trustDomainOf(principal);
        if (name !== CLUSTER_LOCAL && !trustDomains.isLocal(name)) {
          push(rule.to.line, `to.principals: "${principal}" is not in the local trust domain or an alias; destinations are local workloads, so the rule never applies`);
        }
      }
    }
    if (rule.action === 'ALLOW') {
      if (rule.from.length === 0) push(rule.line, 'no "from": the rule admits every caller, including unauthenticated (plaintext) ones');
      if (rule.to === undefined) push(rule.line, 'no "to": the rule allows at every destination');
      if (rule.operations.length === 0) push(rule.line, 'no "operations": the rule allows every method and path');
      rule.operations.forEach((operation, index) => {
        if (operation.paths.some((path) => 'any' in path)) push(operation.line, `operations[${index}].paths: "*" allows every path`);
        else if (operation.paths.length === 0) push(operation.line, `operations[${index}] has no paths: it allows every path`);
      });
      rule.when.forEach((condition, index) => {
        if (condition.key !== 'request.headers') return;
        for (const value of condition.values.filter((listed) => listed.includes(','))) {
          push(condition.line, `when[${index}].values: "${value}" holds a ",", which an ALLOW reads as several joined headers (Envoy joins a repeated header with ","), so it never matches`);
        }
      });
    }
    warnSources(rule, trustDomains, push);
  }
  // Array.prototype.sort is stable, so warnings on one line keep the order they were found in.
  return warnings.sort((a, b) => a.line - b.line);
}
