// `meshwarden rules validate|compile|explain`: check a rules file, print the data document it compiles to, or
// decide one request with it and say which rules matched and why.
import { ConfigError } from '../errors.js';
import { compileRules, toDataDocument } from '../rules/compile.js';
import { compileRulesFile, loadRulesLibrary, RULES_EXPLAIN } from '../rules/library.js';
import { readRulesFile } from '../rules/parse.js';
import { findRuleWarnings, formatWarning } from '../rules/warnings.js';
import type { TrustDomains } from '../identity/spiffe.js';
import { DEFAULT_RULES_FILE } from '../package-paths.js';
import { createRuntime, trustDomainsOf } from '../runtime.js';
import { splitArguments } from './arguments.js';
import { configOf, printDecision, readCheckRequest } from './eval.js';

export const RULES_USAGE = `  meshwarden rules validate FILE [flags]   check a rules file (YAML or JSON): every error at once (exit 2),
                                           or "FILE: N rules valid" and warnings for rules that widen access
  meshwarden rules compile FILE [flags]    print the data document the rules compile to ({"meshwarden":{"rules":…}})
  meshwarden rules explain [--rules FILE] --request FILE [flags]
                                           decide one CheckRequest (proto JSON) with the rules library and
                                           these rules (default: the embedded default rules), printed as by eval (the decision names the rule),
                                           with "explanation": every rule of the destination, which
                                           matched, and the parts (from, operations, when,
                                           ambiguous_path) of the others that did not
      rules flags: --trust-domain, --trust-domain-aliases, --federated-trust-domains, --config (as for serve)`;

/** Each subcommand's own usage (`meshwarden rules SUBCOMMAND --help`). */
export const RULES_SUBCOMMAND_USAGE: Readonly<Record<'validate' | 'compile' | 'explain', string>> = {
  validate: `Usage: meshwarden rules validate FILE [--trust-domain TD] [--trust-domain-aliases TD,…] [--federated-trust-domains TD,…] [--config FILE]

Checks a rules file (YAML or JSON). Every error is listed at once, each with its line and column, and the exit
code is 2; a valid file prints "FILE: N rules valid" and a warning for each rule that widens access (exit 0).
`,
  compile: `Usage: meshwarden rules compile FILE [--trust-domain TD] [--trust-domain-aliases TD,…] [--federated-trust-domains TD,…] [--config FILE]

Prints the data document the rules compile to ({"meshwarden":{"rules":…}}), as the rules library reads it.
`,
  explain: `Usage: meshwarden rules explain [--rules FILE] --request FILE [serve settings: --trust-domain…, --xfcc, --config]

Decides one CheckRequest (proto JSON, as in examples/requests/) with the rules library and the rules file
(default: the embedded default rules), printed as by eval, plus "explanation": every rule of the destination,
which matched, and for the others the values that did not (method POST not in [GET], trust domain not accepted…).
`,
};

/** Splits the FILE operand from the serve settings and builds the trust domains from those settings. */
function readOperands(argv: readonly string[]): { file: string; trustDomains: TrustDomains } {
  const problems: string[] = [];
  const { operands, settings } = splitArguments(argv, []);
  if (operands.length !== 1) problems.push(operands.length === 0 ? 'a rules FILE is required' : `one rules FILE at a time (got ${operands.join(', ')})`);
  const config = configOf(settings, problems);
  if (problems.length > 0 || config === undefined) throw new ConfigError(problems);
  return { file: operands[0]!, trustDomains: trustDomainsOf(config) };
}

/** What the rules library's explain entrypoint returns (policies/rules/authz.rego). */
interface Explanation {
  decision: { dynamic_metadata: { rule: string; reason: string; shadow_denies: string[] } };
  matched: string[];
  rules: Array<{ name: string; action: string; shadow: boolean; matched: boolean; not_matched: string[] }>;
  destination_keys: string[];
  path_ambiguous: boolean;
  /** By rule name: why each part that did not match failed, naming the request's value and the rule's list. */
  why: Record<string, string[]>;
}

/** The explanation with its keys in reading order (wasm objects come out in hash order), rules by name. */
function ordered(explanation: Explanation): unknown {
  const { rule, reason, shadow_denies } = explanation.decision.dynamic_metadata;
  return {
    decided_by: rule,
    reason,
    shadow_denies,
    matched: explanation.matched,
    rules: explanation.rules
      .map(({ name, action, shadow, matched, not_matched }) => ({ name, action, shadow, matched, not_matched, why: explanation.why[name] ?? [] }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    destination_keys: explanation.destination_keys,
    path_ambiguous: explanation.path_ambiguous,
  };
}

/** `explain`: eval with the rules file served, plus the library's explain entrypoint over the same input. */
async function explain(argv: readonly string[]): Promise<number> {
  const { own, operands, settings } = splitArguments(argv, ['rules', 'request']);
  const problems: string[] = [];
  const rulesPath = own.get('rules');
  const requestPath = own.get('request');
  // Without --rules, the embedded default rules, as serve and eval use them.
  if (rulesPath === '') problems.push('--rules needs a FILE');
  if (requestPath === undefined || requestPath === '') problems.push('--request FILE is required');
  const config = configOf([...(rulesPath ? ['--rules', rulesPath] : []), ...settings, ...operands], problems);
  if (problems.length > 0 || config === undefined) throw new ConfigError(problems);
  const wire = readCheckRequest(requestPath!);
  const runtime = await createRuntime(config);
  // The same bundle and data, at the entrypoint that reports every rule of the destination.
  const explainer = await loadRulesLibrary(compileRulesFile(rulesPath ?? DEFAULT_RULES_FILE, runtime.trustDomains), RULES_EXPLAIN);
  const explainInput = (inputJson: string): unknown => {
    const [first] = explainer.evaluate(inputJson) as Array<{ result: Explanation }>;
    return first === undefined ? null : ordered(first.result);
  };
  return printDecision(runtime, runtime.policies.current!, wire, explainInput);
}

export async function runRulesCommand(argv: readonly string[]): Promise<number> {
  const [subcommand, ...rest] = argv;
  switch (subcommand) {
    case 'validate': {
      const { file, trustDomains } = readOperands(rest);
      const rules = readRulesFile(file);
      compileRules(rules, trustDomains);
      const count = rules.rules.length;
      const lines = [`${file}: ${count} ${count === 1 ? 'rule' : 'rules'} valid`];
      for (const warning of findRuleWarnings(rules, trustDomains)) lines.push(formatWarning(file, warning));
      process.stdout.write(lines.join('\n') + '\n');
      return 0;
    }
    case 'compile': {
      const { file, trustDomains } = readOperands(rest);
      const compiled = compileRules(readRulesFile(file), trustDomains);
      process.stdout.write(JSON.stringify(toDataDocument(compiled), null, 2) + '\n');
      return 0;
    }
    case 'explain':
      return explain(rest);
    default:
      throw new ConfigError([`${subcommand === undefined ? 'a subcommand is required' : `unknown subcommand "${subcommand}"`}; usage:\n${RULES_USAGE}`]);
  }
}
