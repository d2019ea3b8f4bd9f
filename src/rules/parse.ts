// Reads a rules file (YAML or JSON) and validates it strictly, reporting every problem at once with its line.
import { readFileSync } from 'node:fs';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type YAMLMap } from 'yaml';
import { ConfigError, describeError } from '../errors.js';
import { isSpiffeIdError, parseSpiffeId, validateTrustDomain } from '../identity/spiffe.js';
import type {
  ConditionKey,
  Matcher,
  Rule,
  RuleAction,
  RuleCondition,
  RuleDestination,
  RuleOperation,
  RuleSource,
  RulesFile,
} from './types.js';

/** `*` in `from[].principals`: any authenticated caller (a valid SPIFFE ID in an accepted trust domain). */
export const ANY_PRINCIPAL = '*';

const SCHEME = 'spiffe://';
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const MAX_DNS_LABEL = 63;
const METHOD = /^[A-Z][A-Z0-9_-]*$/;
// RFC 9110 token characters; a leading ':' for Envoy's pseudo-headers (:authority, :path, :method).
const HEADER_NAME = /^:?[!#$%&'*+.^_`|~0-9a-z-]+$/;
const WHEN_KEY = /^(request\.headers|request\.query|jwt\.claims|context)\[([^[\]]+)\]$/;

const TOP_KEYS = ['default', 'rules'] as const;
const RULE_KEYS = ['name', 'action', 'shadow', 'to', 'from', 'operations', 'when'] as const;
const DESTINATION_KEYS = ['principals', 'namespaces', 'serviceAccounts'] as const;
const SOURCE_KEYS = [
  'principals',
  'notPrincipals',
  'namespaces',
  'notNamespaces',
  'serviceAccounts',
  'notServiceAccounts',
  'trustDomains',
  'notTrustDomains',
] as const;
const OPERATION_KEYS = ['methods', 'notMethods', 'paths', 'notPaths', 'hosts', 'notHosts', 'ports', 'notPorts'] as const;
const CONDITION_KEYS = ['key', 'values', 'notValues'] as const;

/** Hints for keys from Istio's AuthorizationPolicy that have a different shape here. */
const ISTIO_WRAPPERS: Readonly<Record<string, string>> = {
  source: 'write the fields directly in the from entry (no "source:" wrapper as in Istio)',
  operation: 'write the fields directly in the operations entry (no "operation:" wrapper as in Istio)',
  requestPrincipals: 'request principals (end-user JWTs) are matched with when: jwt.claims[iss] / jwt.claims[sub]',
  notRequestPrincipals: 'request principals (end-user JWTs) are matched with when: jwt.claims[iss] / jwt.claims[sub]',
  ipBlocks: 'IP addresses are not identities; match workloads by principals, namespaces or serviceAccounts',
  remoteIpBlocks: 'IP addresses are not identities; match workloads by principals, namespaces or serviceAccounts',
};

interface Problem {
  line: number;
  text: string;
}

/** Reports problems against one file; `scope` prefixes messages with the rule they belong to. */
class Reporter {
  readonly problems: Problem[] = [];
  scope = '';
  constructor(
    private readonly source: string,
    private readonly lineCounter: LineCounter,
  ) {}

  lineOf(node: Node | null | undefined, fallback?: Node | null): number {
    const offset = node?.range?.[0] ?? fallback?.range?.[0];
    return offset === undefined ? 1 : this.lineCounter.linePos(offset).line;
  }

  report(node: Node | null | undefined, where: string, message: string, fallback?: Node | null): void {
    const line = this.lineOf(node, fallback);
    const place = where === '' ? '' : `${where}: `;
    this.problems.push({ line, text: `${this.source}:${line}: ${this.scope}${place}${message}` });
  }
}

/**
 * A YAML syntax error as `FILE:LINE:COLUMN: message`, then the line itself with a caret under the column. The
 * yaml parser points some errors (mapping items out of line) at the indentation before the token at fault:
 * the caret goes to that token, the first thing on the line the reader has to change.
 */
function yamlProblem(source: string, text: string, message: string, at: { line: number; col: number }): { line: number; text: string } {
  const lineText = text.split(/\r?\n/)[at.line - 1] ?? '';
  const firstToken = lineText.search(/[^ ]/);
  const column = firstToken !== -1 && at.col - 1 < firstToken ? firstToken + 1 : at.col;
  // The parser's message repeats the place ("… at line 4, column 1:") and adds its own excerpt: both are ours now.
  const what = (message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
  const caretIndent = lineText.slice(0, column - 1).replace(/[^\t]/g, ' ');
  return { line: at.line, text: `${source}:${at.line}:${column}: not valid YAML or JSON: ${what}\n      ${lineText}\n      ${caretIndent}^` };
}

/** Reads and validates a rules file; throws ConfigError listing every problem. */
export function readRulesFile(path: string): RulesFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError([`${path}: cannot read the rules file: ${describeError(error)}`]);
  }
  return parseRules(text, path);
}

/**
 * Parses rules from YAML or JSON text (JSON is read as the YAML it is a subset of, so lines are known for both).
 * `source` names the file in messages. Throws ConfigError listing every problem, sorted by line.
 */
export function parseRules(text: string, source: string): RulesFile {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, keepSourceTokens: true, prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    // One problem per line: the yaml parser reports the knock-on errors of one mistake on its line too.
    const seen = new Set<number>();
    const problems: string[] = [];
    for (const error of document.errors) {
      const problem = yamlProblem(source, text, error.message, error.linePos?.[0] ?? lineCounter.linePos(error.pos[0]));
      if (seen.has(problem.line)) continue;
      seen.add(problem.line);
      problems.push(problem.text);
    }
    throw new ConfigError(problems);
  }
  const reporter = new Reporter(source, lineCounter);
  const parsed = new FileParser(document, reporter, source).parseFile();
  if (reporter.problems.length > 0 || parsed === undefined) {
    const sorted = reporter.problems.map((problem, index) => ({ ...problem, index }));
    sorted.sort((a, b) => a.line - b.line || a.index - b.index);
    throw new ConfigError(sorted.map((problem) => problem.text));
  }
  return parsed;
}

function quote(value: unknown): string {
  const text = typeof value === 'string' ? value : String(value);
  return JSON.stringify(text.length > 200 ? text.slice(0, 200) + '…' : text);
}

/** `notprincipals`, `not_principals`, `NotPrincipals` → `notPrincipals`. */
function suggestKey(key: string, known: readonly string[]): string | undefined {
  const fold = (text: string) => text.replace(/[-_]/g, '').toLowerCase();
  return known.find((candidate) => fold(candidate) === fold(key));
}

/** A pattern of paths or hosts: exact, `prefix*`, `*suffix` or `*`; undefined when `*` is anywhere else. */
function toMatcher(value: string): Matcher | undefined {
  if (value === '*') return { any: true };
  const stars = value.split('*').length - 1;
  if (stars === 0) return { exact: value };
  if (stars > 1) return undefined;
  if (value.endsWith('*')) return { prefix: value.slice(0, -1) };
  if (value.startsWith('*')) return { suffix: value.slice(1) };
  return undefined;
}

/** Hosts compare lowercased, without port or trailing dot, at compile time and at match time (the contract). */
export function normaliseHost(host: string): string {
  let value = host.toLowerCase();
  if (value.startsWith('[')) {
    const end = value.indexOf(']');
    if (end !== -1) value = value.slice(0, end + 1);
  } else {
    value = value.replace(/:[0-9]*$/, '');
  }
  return value.endsWith('.') ? value.slice(0, -1) : value;
}

function normaliseHostMatcher(matcher: Matcher): Matcher {
  if ('exact' in matcher) return { exact: normaliseHost(matcher.exact) };
  if ('suffix' in matcher) return { suffix: normaliseHost(matcher.suffix) };
  // A prefix (`api.*`) keeps everything after it open, port included; only the case folds.
  if ('prefix' in matcher) return { prefix: matcher.prefix.toLowerCase() };
  return matcher;
}

function isDnsLabel(value: string): boolean {
  return value.length <= MAX_DNS_LABEL && DNS_LABEL.test(value);
}

type Item<T> = { value: T; node: Node };

class FileParser {
  private readonly document: Document;
  private readonly reporter: Reporter;
  private readonly source: string;

  constructor(document: Document, reporter: Reporter, source: string) {
    this.document = document;
    this.reporter = reporter;
    this.source = source;
  }

  private deref(node: unknown): Node | null {
    if (node === null || node === undefined) return null;
    if (isAlias(node)) return (node.resolve(this.document) as Node | undefined) ?? null;
    return node as Node;
  }

  /** The key/value pairs of a mapping, unknown keys reported; undefined when the node is not a mapping. */
  private entries(
    node: Node | null,
    known: readonly string[],
    where: string,
    expected: string,
    fallback?: Node | null,
  ): Map<string, { key: Node; value: Node | null }> | undefined {
    if (!isMap(node)) {
      this.reporter.report(node, where, `expected ${expected}`, fallback);
      return undefined;
    }
    const result = new Map<string, { key: Node; value: Node | null }>();
    for (const pair of (node as YAMLMap<unknown, unknown>).items) {
      const key = this.deref(pair.key);
      const name = isScalar(key) ? key.value : undefined;
      const at = where === '' ? '' : `${where}.`;
      if (typeof name !== 'string') {
        this.reporter.report(key, where, `keys must be strings, not ${quote(name)}`, node);
        continue;
      }
      if (!known.includes(name)) {
        const suggestion = suggestKey(name, known);
        const hint = suggestion !== undefined ? `; did you mean "${suggestion}"?` : ISTIO_WRAPPERS[name] !== undefined ? `: ${ISTIO_WRAPPERS[name]}` : '';
        this.reporter.report(key, `${at}${name}`, `unknown key (expected one of ${known.join(', ')})${hint}`);
        continue;
      }
      result.set(name, { key: key as Node, value: this.deref(pair.value) });
    }
    return result;
  }

  private string(node: Node | null, where: string, fallback?: Node | null): string | undefined {
    if (isScalar(node) && typeof node.value === 'string') return node.value;
    const value = isScalar(node) ? node.value : undefined;
    const hint = isScalar(node) && (typeof node.value === 'number' || typeof node.value === 'boolean') ? ` (quote it: "${String(node.value)}")` : '';
    this.reporter.report(node, where, `expected a string, not ${node === null || isScalar(node) ? quote(value) : isSeq(node) ? 'a list' : 'a mapping'}${hint}`, fallback);
    return undefined;
  }

  /** A non-empty list; each item checked by `item` (undefined = already reported). */
  private list<T>(
    node: Node | null,
    where: string,
    what: string,
    item: (itemNode: Node | null, itemWhere: string) => T | undefined,
    fallback: Node | null,
  ): Item<T>[] | undefined {
    if (!isSeq(node)) {
      this.reporter.report(node, where, `expected a list of ${what}`, fallback);
      return undefined;
    }
    if (node.items.length === 0) {
      this.reporter.report(node, where, 'must not be empty (an empty list would mean "no constraint"; omit the key instead)');
      return undefined;
    }
    const items: Item<T>[] = [];
    let ok = true;
    node.items.forEach((raw, index) => {
      const itemNode = this.deref(raw);
      const value = item(itemNode, `${where}[${index}]`);
      if (value === undefined) ok = false;
      else items.push({ value, node: itemNode ?? node });
    });
    return ok ? items : undefined;
  }

  private stringList(
    node: Node | null,
    where: string,
    what: string,
    check: (value: string) => string | undefined,
    fallback: Node | null,
  ): string[] | undefined {
    const items = this.list(
      node,
      where,
      what,
      (itemNode, itemWhere) => {
        const value = this.string(itemNode, itemWhere);
        if (value === undefined) return undefined;
        const problem = check(value);
        if (problem !== undefined) {
          this.reporter.report(itemNode, itemWhere, `${quote(value)} ${problem}`);
          return undefined;
        }
        return value;
      },
      fallback,
    );
    return items?.map((item) => item.value);
  }

  parseFile(): RulesFile | undefined {
    const root = this.document.contents as Node | null;
    if (root === null || (isScalar(root) && root.value === null)) {
      this.reporter.report(null, '', 'the file is empty: expected a mapping with "rules" (and optionally "default")');
      return undefined;
    }
    const top = this.entries(root, TOP_KEYS, '', 'a mapping with "rules" (and optionally "default")');
    if (top === undefined) return undefined;

    let defaultAction: 'allow' | 'deny' = 'deny';
    let defaultLine: number | undefined;
    const defaultEntry = top.get('default');
    if (defaultEntry !== undefined) {
      defaultLine = this.reporter.lineOf(defaultEntry.key);
      const value = this.string(defaultEntry.value, 'default', defaultEntry.key);
      if (value === 'allow' || value === 'deny') defaultAction = value;
      else if (value !== undefined) this.reporter.report(defaultEntry.value, 'default', `${quote(value)} is not allow or deny`);
    }

    const rulesEntry = top.get('rules');
    const rules: Rule[] = [];
    if (rulesEntry === undefined) {
      this.reporter.report(root, 'rules', 'required (a list of rules; [] for none)');
    } else if (!isSeq(rulesEntry.value)) {
      this.reporter.report(rulesEntry.value, 'rules', 'expected a list of rules', rulesEntry.key);
    } else {
      const seen = new Map<string, number>();
      rulesEntry.value.items.forEach((raw, index) => {
        const rule = this.parseRule(this.deref(raw), index, seen, rulesEntry.value);
        if (rule !== undefined) rules.push(rule);
      });
    }
    this.reporter.scope = '';
    return Object.freeze({ source: this.source, default: defaultAction, defaultLine, rules: Object.freeze(rules) });
  }

  private parseRule(node: Node | null, index: number, seen: Map<string, number>, parent: Node | null): Rule | undefined {
    this.reporter.scope = `rules[${index}]: `;
    // Name the rule in every message, including those about keys that come before its name.
    const written = isMap(node) ? this.deref(node.get('name', true)) : null;
    if (isScalar(written) && typeof written.value === 'string' && isDnsLabel(written.value)) this.reporter.scope = `rule "${written.value}": `;
    const fields = this.entries(node, RULE_KEYS, '', 'a rule (a mapping with name, action, …)', parent);
    if (fields === undefined) return undefined;
    const line = this.reporter.lineOf(node);
    let ok = true;

    let name: string | undefined;
    const nameEntry = fields.get('name');
    if (nameEntry === undefined) {
      this.reporter.report(node, 'name', 'required');
      ok = false;
    } else {
      name = this.string(nameEntry.value, 'name', nameEntry.key);
      if (name !== undefined && !isDnsLabel(name)) {
        this.reporter.report(nameEntry.value, 'name', `${quote(name)} must be lowercase letters, digits and "-", start and end with a letter or digit, at most 63 characters`);
        name = undefined;
      }
      if (name !== undefined) {
        this.reporter.scope = `rule "${name}": `;
        const first = seen.get(name);
        if (first !== undefined) {
          this.reporter.report(nameEntry.value, 'name', `duplicate: the rule on line ${first} has the same name`);
          ok = false;
        } else {
          seen.set(name, this.reporter.lineOf(nameEntry.value));
        }
      } else {
        ok = false;
      }
    }

    let action: RuleAction | undefined;
    const actionEntry = fields.get('action');
    if (actionEntry === undefined) {
      this.reporter.report(node, 'action', 'required (ALLOW or DENY)');
    } else {
      const value = this.string(actionEntry.value, 'action', actionEntry.key);
      if (value === 'ALLOW' || value === 'DENY') action = value;
      else if (value !== undefined) {
        const hint = value.toUpperCase() === 'ALLOW' || value.toUpperCase() === 'DENY' ? ` (write it in capitals: ${value.toUpperCase()})` : '';
        this.reporter.report(actionEntry.value, 'action', `${quote(value)} is not ALLOW or DENY${hint}`);
      }
    }

    let shadow = false;
    const shadowEntry = fields.get('shadow');
    if (shadowEntry !== undefined) {
      const value = shadowEntry.value;
      if (isScalar(value) && typeof value.value === 'boolean') shadow = value.value;
      else {
        this.reporter.report(value, 'shadow', `expected true or false, not ${quote(isScalar(value) ? value.value : '(a collection)')}`, shadowEntry.key);
        ok = false;
      }
    }

    const toEntry = fields.get('to');
    const to = toEntry === undefined ? undefined : this.parseDestination(toEntry.value, toEntry.key);
    const fromEntry = fields.get('from');
    const from =
      fromEntry === undefined
        ? []
        : this.list(fromEntry.value, 'from', 'sources (mappings)', (item, where) => this.parseSource(item, where, action), fromEntry.key)?.map((item) => item.value);
    const operationsEntry = fields.get('operations');
    const operations =
      operationsEntry === undefined
        ? []
        : this.list(operationsEntry.value, 'operations', 'operations (mappings)', (item, where) => this.parseOperation(item, where), operationsEntry.key)?.map(
            (item) => item.value,
          );
    const whenEntry = fields.get('when');
    const when =
      whenEntry === undefined
        ? []
        : this.list(whenEntry.value, 'when', 'conditions (mappings with key and values or notValues)', (item, where) => this.parseCondition(item, where), whenEntry.key)?.map(
            (item) => item.value,
          );

    if (
      !ok ||
      name === undefined ||
      action === undefined ||
      (toEntry !== undefined && to === undefined) ||
      from === undefined ||
      operations === undefined ||
      when === undefined
    ) {
      return undefined;
    }
    return Object.freeze({ name, action, shadow, to, from, operations, when, line });
  }

  private parseDestination(node: Node | null, keyNode: Node): RuleDestination | undefined {
    if (isSeq(node)) {
      this.reporter.report(
        node,
        'to',
        'expected a mapping: "to" is the destination workload (principals, namespaces, serviceAccounts); request paths and methods go in "operations"',
      );
      return undefined;
    }
    const fields = this.entries(node, DESTINATION_KEYS, 'to', 'a mapping with principals, namespaces or serviceAccounts', keyNode);
    if (fields === undefined) return undefined;
    if (isMap(node) && node.items.length === 0) {
      this.reporter.report(node, 'to', 'names no destination; omit "to" for a rule that applies at every destination', keyNode);
      return undefined;
    }
    const principals = this.optionalStrings(fields, 'principals', 'to', 'principals', (value) => this.checkPrincipal(value, 'to'));
    const namespaces = this.optionalStrings(fields, 'namespaces', 'to', 'namespaces', (value) => this.checkNamespace(value));
    const serviceAccounts = this.optionalStrings(fields, 'serviceAccounts', 'to', 'service accounts ("namespace/name")', (value) => this.checkServiceAccount(value));
    if (principals === undefined || namespaces === undefined || serviceAccounts === undefined) return undefined;
    return Object.freeze({ principals, namespaces, serviceAccounts, line: this.reporter.lineOf(node) });
  }

  /** An optional list field: [] when absent, undefined when present and wrong (already reported). */
  private optionalStrings(
    fields: Map<string, { key: Node; value: Node | null }>,
    key: string,
    where: string,
    what: string,
    check: (value: string) => string | undefined,
  ): string[] | undefined {
    const entry = fields.get(key);
    if (entry === undefined) return [];
    return this.stringList(entry.value, `${where}.${key}`, what, check, entry.key);
  }

  /** `action` decides `notPrincipals: ["*"]`: in a DENY, every caller without an identity (Istio's idiom). */
  private checkPrincipal(value: string, field: 'to' | 'principals' | 'notPrincipals', action?: RuleAction): string | undefined {
    if (value === ANY_PRINCIPAL) {
      if (field === 'principals' || (field === 'notPrincipals' && action !== 'ALLOW')) return undefined;
      return field === 'to'
        ? 'is not a destination; omit "to" for a rule that applies at every destination'
        : 'would never match in an ALLOW rule: a negative condition never matches a caller without an identity, and every identity is excluded (in a DENY rule it denies every caller without one)';
    }
    if (value.toLowerCase().startsWith(SCHEME)) {
      return `must be written without "spiffe://", as in Istio: ${quote(value.slice(SCHEME.length))}`;
    }
    if (value.includes('*')) {
      return 'is not an exact principal or "*" (Istio\'s prefix* and *suffix principals are not supported; use namespaces, serviceAccounts or trustDomains)';
    }
    const id = parseSpiffeId(SCHEME + value);
    if (isSpiffeIdError(id)) return `is not a valid SPIFFE ID once prefixed with "spiffe://": ${id.message}`;
    if (id.path === '') return 'names a trust domain, not a workload (use trustDomains for every workload of a trust domain)';
    return undefined;
  }

  private checkNamespace(value: string): string | undefined {
    return isDnsLabel(value) ? undefined : 'is not a namespace (a DNS label: lowercase letters, digits and "-", at most 63 characters)';
  }

  private checkServiceAccount(value: string): string | undefined {
    const parts = value.split('/');
    if (parts.length !== 2) return 'is not "namespace/name"';
    if (!isDnsLabel(parts[0]!)) return `is not "namespace/name": the namespace ${quote(parts[0])} is not a DNS label`;
    if (!isDnsLabel(parts[1]!)) return `is not "namespace/name": the name ${quote(parts[1])} is not a DNS label`;
    return undefined;
  }

  private checkTrustDomain(value: string): string | undefined {
    if (value.toLowerCase().startsWith(SCHEME)) return `must be written without "spiffe://": ${quote(value.slice(SCHEME.length))}`;
    const error = validateTrustDomain(value);
    return error === undefined ? undefined : `is not a valid trust domain: ${error.message}`;
  }

  private parseSource(node: Node | null, where: string, action: RuleAction | undefined): RuleSource | undefined {
    const fields = this.entries(node, SOURCE_KEYS, where, 'a mapping with principals, namespaces, serviceAccounts, trustDomains or their not* forms');
    if (fields === undefined) return undefined;
    if (isMap(node) && node.items.length === 0) {
      this.reporter.report(node, where, 'is empty; omit "from" for a rule that matches every source');
      return undefined;
    }
    const lists = {
      principals: this.optionalStrings(fields, 'principals', where, 'principals', (value) => this.checkPrincipal(value, 'principals')),
      notPrincipals: this.optionalStrings(fields, 'notPrincipals', where, 'principals', (value) => this.checkPrincipal(value, 'notPrincipals', action)),
      namespaces: this.optionalStrings(fields, 'namespaces', where, 'namespaces', (value) => this.checkNamespace(value)),
      notNamespaces: this.optionalStrings(fields, 'notNamespaces', where, 'namespaces', (value) => this.checkNamespace(value)),
      serviceAccounts: this.optionalStrings(fields, 'serviceAccounts', where, 'service accounts ("namespace/name")', (value) => this.checkServiceAccount(value)),
      notServiceAccounts: this.optionalStrings(fields, 'notServiceAccounts', where, 'service accounts ("namespace/name")', (value) => this.checkServiceAccount(value)),
      trustDomains: this.optionalStrings(fields, 'trustDomains', where, 'trust domains', (value) => this.checkTrustDomain(value)),
      notTrustDomains: this.optionalStrings(fields, 'notTrustDomains', where, 'trust domains', (value) => this.checkTrustDomain(value)),
    };
    if (Object.values(lists).some((list) => list === undefined)) return undefined;
    return Object.freeze({ ...(lists as { [K in keyof typeof lists]: string[] }), line: this.reporter.lineOf(node) });
  }

  private matcherList(
    fields: Map<string, { key: Node; value: Node | null }>,
    key: 'paths' | 'notPaths' | 'hosts' | 'notHosts',
    where: string,
  ): Matcher[] | undefined {
    const entry = fields.get(key);
    if (entry === undefined) return [];
    const isPath = key === 'paths' || key === 'notPaths';
    const items = this.list(
      entry.value,
      `${where}.${key}`,
      isPath ? 'paths' : 'hosts',
      (itemNode, itemWhere) => {
        const value = this.string(itemNode, itemWhere);
        if (value === undefined) return undefined;
        const fail = (message: string) => {
          this.reporter.report(itemNode, itemWhere, `${quote(value)} ${message}`);
          return undefined;
        };
        if (value === '') return fail('is empty');
        if (/[\s\u0000-\u001f\u007f]/.test(value)) return fail('contains whitespace or a control character');
        const matcher = toMatcher(value);
        if (matcher === undefined) return fail('is not exact, prefix*, *suffix or *');
        if (isPath) {
          if (/[?#]/.test(value)) return fail('contains "?" or "#": paths are matched without the query');
          if (('exact' in matcher && !matcher.exact.startsWith('/')) || ('prefix' in matcher && !matcher.prefix.startsWith('/'))) {
            return fail('must start with "/"');
          }
          return matcher;
        }
        if (/[/?#@]/.test(value)) return fail('is not a host name (no scheme, path or userinfo)');
        const normalised = normaliseHostMatcher(matcher);
        if (('exact' in normalised && normalised.exact === '') || ('suffix' in normalised && normalised.suffix === '')) {
          return fail('is empty once normalised (hosts are compared without port or trailing dot)');
        }
        return normalised;
      },
      entry.key,
    );
    return items?.map((item) => item.value);
  }

  private portList(fields: Map<string, { key: Node; value: Node | null }>, key: 'ports' | 'notPorts', where: string): number[] | undefined {
    const entry = fields.get(key);
    if (entry === undefined) return [];
    const items = this.list(
      entry.value,
      `${where}.${key}`,
      'ports (1-65535)',
      (itemNode, itemWhere) => {
        const raw = isScalar(itemNode) ? itemNode.value : undefined;
        // Istio writes ports as strings ("8080"); both forms are accepted.
        const port = typeof raw === 'number' ? raw : typeof raw === 'string' && /^[0-9]{1,5}$/.test(raw) ? Number(raw) : NaN;
        if (Number.isInteger(port) && port >= 1 && port <= 65535) return port;
        this.reporter.report(itemNode, itemWhere, `${quote(isScalar(itemNode) ? raw : '(a collection)')} is not a port (a whole number from 1 to 65535)`);
        return undefined;
      },
      entry.key,
    );
    return items?.map((item) => item.value);
  }

  private parseOperation(node: Node | null, where: string): RuleOperation | undefined {
    const fields = this.entries(node, OPERATION_KEYS, where, 'a mapping with methods, paths, hosts, ports or their not* forms');
    if (fields === undefined) return undefined;
    if (isMap(node) && node.items.length === 0) {
      this.reporter.report(node, where, 'is empty; omit "operations" for a rule that matches every operation');
      return undefined;
    }
    const checkMethod = (value: string) =>
      METHOD.test(value) ? undefined : METHOD.test(value.toUpperCase()) ? `is not an uppercase method (write ${quote(value.toUpperCase())})` : 'is not an HTTP method (an uppercase token)';
    const parts = {
      methods: this.optionalStrings(fields, 'methods', where, 'methods', checkMethod),
      notMethods: this.optionalStrings(fields, 'notMethods', where, 'methods', checkMethod),
      paths: this.matcherList(fields, 'paths', where),
      notPaths: this.matcherList(fields, 'notPaths', where),
      hosts: this.matcherList(fields, 'hosts', where),
      notHosts: this.matcherList(fields, 'notHosts', where),
      ports: this.portList(fields, 'ports', where),
      notPorts: this.portList(fields, 'notPorts', where),
    };
    if (Object.values(parts).some((part) => part === undefined)) return undefined;
    return Object.freeze({ ...(parts as { [K in keyof typeof parts]: NonNullable<(typeof parts)[K]> }), line: this.reporter.lineOf(node) });
  }

  private parseCondition(node: Node | null, where: string): RuleCondition | undefined {
    const fields = this.entries(node, CONDITION_KEYS, where, 'a mapping with key and values or notValues');
    if (fields === undefined) return undefined;
    let ok = true;
    let key: ConditionKey | undefined;
    let name: string | undefined;
    const keyEntry = fields.get('key');
    if (keyEntry === undefined) {
      this.reporter.report(node, `${where}.key`, 'required');
      ok = false;
    } else {
      const value = this.string(keyEntry.value, `${where}.key`, keyEntry.key);
      const match = value === undefined ? null : WHEN_KEY.exec(value);
      if (value !== undefined && match === null) {
        this.reporter.report(keyEntry.value, `${where}.key`, `${quote(value)} is not request.headers[NAME], request.query[NAME], jwt.claims[NAME] or context[NAME]`);
      } else if (match !== null) {
        key = match[1] as ConditionKey;
        name = key === 'request.headers' ? match[2]!.toLowerCase() : match[2]!;
        if (key === 'request.headers' && !HEADER_NAME.test(name)) {
          this.reporter.report(keyEntry.value, `${where}.key`, `${quote(match[2])} is not a header name`);
          key = undefined;
        }
      }
    }
    const anyString = () => undefined;
    const values = this.optionalStrings(fields, 'values', where, 'strings', anyString);
    const notValues = this.optionalStrings(fields, 'notValues', where, 'strings', anyString);
    if (!fields.has('values') && !fields.has('notValues')) {
      this.reporter.report(node, where, 'needs values or notValues');
      ok = false;
    }
    if (!ok || key === undefined || name === undefined || values === undefined || notValues === undefined) return undefined;
    return Object.freeze({ key, name, values, notValues, line: this.reporter.lineOf(node) });
  }
}
