// Serving a rules file: the rules library's wasm bundle with the file's compiled document as its data.
import { withData, type Policy } from '../policy.js';
import type { TrustDomains } from '../spiffe.js';
import { compileRules, toDataDocument } from './compile.js';
import { readRulesFile } from './parse.js';

/** The compiled document of a rules file as JSON text; throws ConfigError naming the rule and line. */
export function compileRulesFile(path: string, trustDomains: TrustDomains): string {
  return JSON.stringify(toDataDocument(compileRules(readRulesFile(path), trustDomains)));
}

/** Reads and compiles the rules file, then sets it on a freshly loaded rules bundle. */
export function rulesPreparer(path: string, trustDomains: TrustDomains): (policy: Policy) => Policy {
  return (policy) => withData(policy, compileRulesFile(path, trustDomains), 'rules');
}
