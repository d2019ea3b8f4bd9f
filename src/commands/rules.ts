// `meshwarden rules validate|compile|explain`: check a rules file, print the data document it compiles to, or
// decide one request with it and say which rules matched and why.
import { parseServeConfig } from '../config.js';
import { DEFAULT_RULES_FILE, RULES_DECISION, RULES_EXPLAIN, RULES_POLICY_BUNDLE } from '../package-paths.js';
import { ConfigError } from '../errors.js';
import { loadPolicy, type Policy } from '../check/policy.js';
import { createTrustDomains, type TrustDomains } from '../identity/spiffe.js';
import { compileRules, toDataDocument } from '../rules/compile.js';
import { readRulesFile } from '../rules/parse.js';
import { compileRulesFile, withRules } from '../rules/library.js';
import { findRuleWarnings, formatWarning } from '../rules/warnings.js';

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

/** `meshwarden eval`, handed in by the command line so that this module does not import it. */
export type EvalCommand = (
  argv: readonly string[],
  preparePolicy: (policy: Policy) => Policy,
  explain: (inputJson: string) => unknown,
) => Promise<number>;

// Flags of serve that stand alone; every other flag takes a value, inline (`--x=v`) or as the next argument.
const BOOLEAN_FLAGS = new Set(['--shadow', '--skip-body-parse', '--xfcc']);

/** Splits the FILE operand from the serve settings and builds the trust domains from those settings. */
function readOperands(argv: readonly string[]): { file: string; trustDomains: TrustDomains } {
  const problems: string[] = [];
  const files: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-')) {
      files.push(arg);
      continue;
    }
    rest.push(arg);
    if (!arg.includes('=') && !BOOLEAN_FLAGS.has(arg) && i + 1 < argv.length) rest.push(argv[++i]!);
  }
  if (files.length !== 1) problems.push(files.length === 0 ? 'a rules FILE is required' : `one rules FILE at a time (got ${files.join(', ')})`);
  const trustDomains = trustDomainsOf(rest, problems);
  if (problems.length > 0 || trustDomains === undefined) throw new ConfigError(problems);
  return { file: files[0]!, trustDomains };
}

function trustDomainsOf(settings: readonly string[], problems: string[]): TrustDomains | undefined {
  try {
    const config = parseServeConfig(settings, process.env);
    return createTrustDomains({ local: config.trustDomain, aliases: config.trustDomainAliases, federated: config.federatedTrustDomains });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
    return undefined;
  }
}

/** What the rules library's explain entrypoint returns (policies/rules/authz.rego). */
interface Explanation {
  decision: { dynamic_metadata: { rule: string; reason: string; shadow_denies: string[] } };
  matched: string[];
  rules: Array<{ name: string; action: string; shadow: boolean; matched: boolean; not_matched: string[] }>;
  destination_keys: string[];
  path_ambiguous: boolean;
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
      .map(({ name, action, shadow, matched, not_matched }) => ({ name, action, shadow, matched, not_matched }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    destination_keys: explanation.destination_keys,
    path_ambiguous: explanation.path_ambiguous,
  };
}

/** `explain`: compile the rules, then run eval on the rules bundle with the compiled document as its data. */
async function explain(argv: readonly string[], runEval: EvalCommand): Promise<number> {
  let rulesPath: string | undefined;
  const evalArgs: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--rules') rulesPath = argv[++i];
    else if (arg.startsWith('--rules=')) rulesPath = arg.slice('--rules='.length);
    else evalArgs.push(arg);
  }
  const problems: string[] = [];
  // Without --rules, the embedded default rules, as serve and eval use them.
  if (rulesPath === '') problems.push('--rules needs a FILE');
  const settings = evalArgs.filter((arg, index) => !(arg === '--request' || arg.startsWith('--request=') || evalArgs[index - 1] === '--request'));
  const trustDomains = trustDomainsOf(settings, problems);
  if (problems.length > 0 || trustDomains === undefined) throw new ConfigError(problems);
  const compiled = compileRulesFile(rulesPath ?? DEFAULT_RULES_FILE, trustDomains);
  // The same bundle and data, at the entrypoint that reports every rule of the destination.
  const explainer = withRules(await loadPolicy({ path: RULES_POLICY_BUNDLE, decision: RULES_EXPLAIN }), compiled);
  const explain = (inputJson: string): unknown => {
    const [first] = explainer.evaluate(inputJson) as Array<{ result: Explanation }>;
    return first === undefined ? null : ordered(first.result);
  };
  // Later flags win, so --bundle or --decision given by the caller replace these.
  return runEval(['--bundle', RULES_POLICY_BUNDLE, '--decision', RULES_DECISION, ...evalArgs], (policy) => withRules(policy, compiled), explain);
}

export async function runRulesCommand(argv: readonly string[], runEval: EvalCommand): Promise<number> {
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
      return explain(rest, runEval);
    default:
      throw new ConfigError([`${subcommand === undefined ? 'a subcommand is required' : `unknown subcommand "${subcommand}"`}; usage:\n${RULES_USAGE}`]);
  }
}
