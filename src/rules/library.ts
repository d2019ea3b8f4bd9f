// The rules library (policies/rules, compiled to policies/build/rules.tar.gz): its bundle, its entrypoints, and
// serving a rules file with it: the file's compiled rules as the library's data, its input writer as the
// policy's, so the Check path knows nothing of rules.
import { join } from 'node:path';
import { loadPolicy, type Policy, type ResultCacheLimits } from '../check/policy.js';
import type { InputWriter } from '../check/input.js';
import type { TrustDomains } from '../identity/spiffe.js';
import { PACKAGE_ROOT } from '../package-paths.js';
import { compileRules, toDataDocument } from './compile.js';
import { createRulesInputWriter, rulesInputNamesOf, type RulesInputNames } from './input.js';
import { parseRules, readRulesFile } from './parse.js';
import type { RulesFile } from './types.js';

/** The rules library, served with a rules file's compiled document as its data. */
export const RULES_POLICY_BUNDLE = join(PACKAGE_ROOT, 'policies', 'build', 'rules.tar.gz');

export const RULES_DECISION = 'meshwarden/rules/decision';

/** The rules library's second entrypoint: every rule of the destination and why it matched or not. */
export const RULES_EXPLAIN = 'meshwarden/rules/explain';

export interface CompiledRulesFile {
  /** The compiled document as the data JSON of the rules bundle. */
  dataJson: string;
  /** What of a request the rules read. */
  names: RulesInputNames;
  /** Writes the library's smaller input document from those. */
  writer: InputWriter;
  /** The rule names the file declares, and `default` (the library's name when no rule decided). */
  ruleNames: ReadonlySet<string>;
}

/** Reads and compiles a rules file; throws ConfigError naming the rule and line. */
export function compileRulesFile(path: string, trustDomains: TrustDomains): CompiledRulesFile {
  return compileParsedRules(readRulesFile(path), trustDomains);
}

/**
 * Compiles rules from text already read (the watcher hands over the content it saw settle, so the file is not
 * read a third time, when it could have changed again); `source` names the file in messages.
 */
export function compileRulesText(text: string, source: string, trustDomains: TrustDomains): CompiledRulesFile {
  return compileParsedRules(parseRules(text, source), trustDomains);
}

function compileParsedRules(file: RulesFile, trustDomains: TrustDomains): CompiledRulesFile {
  const compiled = compileRules(file, trustDomains);
  const names = rulesInputNamesOf(compiled);
  const ruleNames = new Set(['default', ...file.rules.map((rule) => rule.name)]);
  return { dataJson: JSON.stringify(toDataDocument(compiled)), names, writer: createRulesInputWriter(names), ruleNames };
}

/**
 * The rules library's results, kept by input: its Rego (policies/rules/authz.rego) calls no non-deterministic
 * builtin, its data is the rules file's fixed document, and its input is exactly the projection the writer
 * produces, so the same projection always has the same result (test/unit/rules/result-cache.test.ts proves it
 * over random rules and requests). 10,000 inputs of about 1 KB at most, within 32 MiB; no entry over 1/64 of
 * that, so one request cannot empty it.
 */
export const RULES_RESULT_CACHE: ResultCacheLimits = Object.freeze({ maxEntries: 10_000, maxBytes: 32 * 1024 * 1024, maxEntryBytes: 512 * 1024, maxKeyLength: 256 * 1024 });

/** A fresh instance of the rules library at `entrypoint`, deciding with the compiled rules file. */
export function loadRulesLibrary(rules: CompiledRulesFile, entrypoint: string = RULES_DECISION): Promise<Policy> {
  return loadPolicy(
    { path: RULES_POLICY_BUNDLE, decision: entrypoint },
    { dataJson: rules.dataJson, inputWriter: rules.writer, ruleNames: rules.ruleNames, resultCache: RULES_RESULT_CACHE },
  );
}
