// OPA's decision-log mask rules (v1/plugins/logs/mask.go) applied to an event: the mask policy's result lists
// paths to erase ("/input/password") and upserts ({"op": "upsert", "path": "/input/token", "value": "x"}),
// each under /input or /result. The event records what was done in `erased` and `masked`.

export interface MaskableEvent {
  input?: unknown;
  result?: unknown;
  erased?: string[];
  masked?: string[];
}

interface MaskRule {
  op: 'remove' | 'upsert';
  part: 'input' | 'result';
  /** The path below the part; empty for the whole part. */
  segments: string[];
  path: string;
  value?: unknown;
}

/** The rules of a mask policy's result; the ones that are not OPA's form are reported and left out. */
export function parseMaskRules(result: unknown, problems: string[]): MaskRule[] {
  if (result === undefined || result === null) return [];
  if (!Array.isArray(result)) {
    problems.push('the mask policy must give a set of paths or {op, path, value} objects');
    return [];
  }
  const rules: MaskRule[] = [];
  for (const entry of result as unknown[]) {
    let op: MaskRule['op'] = 'remove';
    let path: unknown = entry;
    let value: unknown;
    if (typeof entry === 'object' && entry !== null && !Array.isArray(entry)) {
      const object = entry as Record<string, unknown>;
      if (object['op'] !== undefined && object['op'] !== 'remove' && object['op'] !== 'upsert') {
        problems.push(`mask op is not supported: ${String(object['op'])}`);
        continue;
      }
      op = (object['op'] as MaskRule['op'] | undefined) ?? 'remove';
      path = object['path'];
      value = object['value'];
    }
    if (typeof path !== 'string' || !path.startsWith('/')) {
      problems.push(`mask must be a slash-prefixed path: ${JSON.stringify(path)}`);
      continue;
    }
    const [part, ...segments] = path.slice(1).split('/');
    if (part !== 'input' && part !== 'result') {
      problems.push(`mask prefix not allowed: ${part ?? ''}`);
      continue;
    }
    let decoded: string[];
    try {
      decoded = segments.map((segment) => decodeURIComponent(segment));
    } catch {
      problems.push(`mask path is not URL-escaped properly: ${path}`);
      continue;
    }
    rules.push({ op, part, segments: decoded, path, ...(op === 'upsert' ? { value } : {}) });
  }
  return rules;
}

/** Applies the rules in order, as OPA does: a path that is not there is skipped, and not listed. */
export function applyMaskRules(event: MaskableEvent, rules: readonly MaskRule[]): void {
  for (const rule of rules) {
    const root = event[rule.part];
    if (root === undefined) continue;
    if (rule.op === 'remove') {
      if (rule.segments.length === 0) delete event[rule.part];
      else if (!removeAt(root, rule.segments)) continue;
      (event.erased ??= []).push(rule.path);
    } else {
      if (rule.segments.length === 0) event[rule.part] = rule.value;
      else if (!upsertAt(root, rule.segments, rule.value)) continue;
      (event.masked ??= []).push(rule.path);
    }
  }
}

function removeAt(root: unknown, segments: string[]): boolean {
  let node = root;
  for (const segment of segments.slice(0, -1)) {
    node = childOf(node, segment);
    if (node === undefined) return false;
  }
  const last = segments[segments.length - 1]!;
  if (Array.isArray(node)) {
    const index = indexOf(last, node.length);
    if (index === undefined) return false;
    node.splice(index, 1);
    return true;
  }
  if (!isObject(node) || !Object.hasOwn(node, last)) return false;
  delete node[last];
  return true;
}

/** OPA's mkdirp: missing objects on the way are created; anything else on the way fails the rule. */
function upsertAt(root: unknown, segments: string[], value: unknown): boolean {
  if (!isObject(root)) return false;
  let node: Record<string, unknown> = root;
  for (const segment of segments.slice(0, -1)) {
    const next = node[segment];
    if (next === undefined) node = node[segment] = {};
    else if (isObject(next)) node = next;
    else return false;
  }
  node[segments[segments.length - 1]!] = value;
  return true;
}

function childOf(node: unknown, segment: string): unknown {
  if (Array.isArray(node)) {
    const index = indexOf(segment, node.length);
    return index === undefined ? undefined : node[index];
  }
  return isObject(node) && Object.hasOwn(node, segment) ? node[segment] : undefined;
}

function indexOf(segment: string, length: number): number | undefined {
  if (!/^[0-9]+$/.test(segment)) return undefined;
  const index = Number(segment);
  return index < length ? index : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
