// Serving a rules file: the rules library's wasm bundle with the file's compiled document as its data.
import type { RulesInput } from '../check/input.js';
import { withData, type Policy } from '../check/policy.js';
import type { TrustDomains } from '../identity/spiffe.js';
import { compileRules, rulesInputOf, toDataDocument } from './compile.js';
import { readRulesFile } from './parse.js';

export interface CompiledRulesFile {
  /** The compiled document as the data JSON of the rules bundle. */
  dataJson: string;
  /** What of a request the rules read (the rules library's input document). */
  input: RulesInput;
}

/** Reads and compiles a rules file; throws ConfigError naming the rule and line. */
export function compileRulesFile(path: string, trustDomains: TrustDomains): CompiledRulesFile {
  const compiled = compileRules(readRulesFile(path), trustDomains);
  return { dataJson: JSON.stringify(toDataDocument(compiled)), input: rulesInputOf(compiled) };
}

/** A freshly loaded rules bundle, serving the compiled rules file. */
export function withRules(policy: Policy, rules: CompiledRulesFile): Policy {
  return withData(policy, rules.dataJson, rules.input);
}

/** Reads and compiles the rules file, then sets it on a freshly loaded rules bundle. */
export function rulesPreparer(path: string, trustDomains: TrustDomains): (policy: Policy) => Policy {
  return (policy) => withRules(policy, compileRulesFile(path, trustDomains));
}
