// json.marshal_with_options and json.patch (OPA's encoding.go and json.go).
import { compareValues, fail, isObject, objectArg, type BuiltinTable, type JsonObject } from './builtin.js';
import { escapeHtml } from './go-json.js';

/** json.MarshalIndent's layout: keys sorted, every line (the first too) begins with prefix, then indent per level. */
function marshalIndent(value: unknown, prefix: string, indent: string, depth = 0): string {
  const newline = (level: number): string => `\n${prefix}${indent.repeat(level)}`;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[${value.map((item) => newline(depth + 1) + marshalIndent(item, prefix, indent, depth + 1)).join(',')}${newline(depth)}]`;
  }
  if (isObject(value)) {
    const keys = Object.keys(value).sort();
    if (keys.length === 0) return '{}';
    const entries = keys.map((key) => `${newline(depth + 1)}${escapeHtml(JSON.stringify(key))}: ${marshalIndent(value[key], prefix, indent, depth + 1)}`);
    return `{${entries.join(',')}${newline(depth)}}`;
  }
  return escapeHtml(JSON.stringify(value));
}

function marshalCompact(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(marshalCompact).join(',')}]`;
  if (isObject(value)) {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${escapeHtml(JSON.stringify(key))}:${marshalCompact(value[key])}`)
      .join(',')}}`;
  }
  return escapeHtml(JSON.stringify(value));
}

/** A JSON pointer ("/a/b", with ~0 and ~1) or an array of segments. */
function pathOf(value: unknown): string[] {
  if (typeof value === 'string') {
    if (value === '') return [];
    if (!value.startsWith('/')) fail('path must begin with /');
    return value
      .slice(1)
      .split('/')
      .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'));
  }
  if (Array.isArray(value)) return value.map((part) => (typeof part === 'string' ? part : JSON.stringify(part)));
  fail('path must be a string or an array');
}

function arrayIndex(segment: string, length: number, forAdd: boolean): number {
  if (forAdd && segment === '-') return length;
  if (!/^(0|[1-9][0-9]*)$/.test(segment)) fail(`invalid array index ${segment}`);
  const index = Number(segment);
  if (index > length || (!forAdd && index === length)) fail(`array index ${segment} out of range`);
  return index;
}

function getAt(document: unknown, path: string[]): unknown {
  let current = document;
  for (const segment of path) {
    if (Array.isArray(current)) current = current[arrayIndex(segment, current.length, false)];
    else if (isObject(current) && Object.hasOwn(current, segment)) current = current[segment];
    else fail(`path ${path.join('/')} not found`);
  }
  return current;
}

/** Returns the document with value set at path (add: insert into arrays; replace: overwrite). */
function setAt(document: unknown, path: string[], value: unknown, mode: 'add' | 'replace' | 'remove'): unknown {
  if (path.length === 0) {
    if (mode === 'remove') fail('cannot remove the root');
    return value;
  }
  const [head, ...rest] = path as [string, ...string[]];
  if (Array.isArray(document)) {
    const copy = [...document];
    if (rest.length > 0) {
      const index = arrayIndex(head, copy.length, false);
      copy[index] = setAt(copy[index], rest, value, mode);
      return copy;
    }
    const index = arrayIndex(head, copy.length, mode === 'add');
    if (mode === 'add') copy.splice(index, 0, value);
    else if (mode === 'replace') copy[index] = value;
    else copy.splice(index, 1);
    return copy;
  }
  if (isObject(document)) {
    const copy: JsonObject = { ...document };
    if (rest.length > 0) {
      if (!Object.hasOwn(copy, head)) fail(`path ${head} not found`);
      copy[head] = setAt(copy[head], rest, value, mode);
      return copy;
    }
    if (mode !== 'add' && !Object.hasOwn(copy, head)) fail(`path ${head} not found`);
    if (mode === 'remove') delete copy[head];
    else copy[head] = value;
    return copy;
  }
  fail('path does not lead to an object or array');
}

function applyPatch(document: unknown, operations: unknown[]): unknown {
  let current = document;
  for (const operation of operations) {
    if (!isObject(operation)) fail('patch operation must be an object');
    const op = operation.op;
    if (!Object.hasOwn(operation, 'path')) fail('patch operation needs a path');
    const path = pathOf(operation.path);
    switch (op) {
      case 'add':
      case 'replace':
        if (!Object.hasOwn(operation, 'value')) fail(`${op} needs a value`);
        current = setAt(current, path, operation.value, op);
        break;
      case 'remove':
        current = setAt(current, path, undefined, 'remove');
        break;
      case 'move':
      case 'copy': {
        if (!Object.hasOwn(operation, 'from')) fail(`${op} needs from`);
        const from = pathOf(operation.from);
        const value = getAt(current, from);
        if (op === 'move') current = setAt(current, from, undefined, 'remove');
        current = setAt(current, path, value, 'add');
        break;
      }
      case 'test':
        if (compareValues(getAt(current, path), operation.value) !== 0) fail('test failed');
        break;
      default:
        fail(`unknown patch operation ${String(op)}`);
    }
  }
  return current;
}

export const jsonBuiltins: BuiltinTable = {
  'json.marshal_with_options': (_evaluation, value, options) => {
    const opts = objectArg(options, 2);
    let indent = '\t';
    let prefix = '';
    let implicit = false;
    let explicit: boolean | undefined;
    for (const [key, option] of Object.entries(opts)) {
      if (key === 'prefix' || key === 'indent') {
        if (typeof option !== 'string') fail(`key ${key} failed cast to string`);
        if (key === 'prefix') prefix = option;
        else indent = option;
        implicit = true;
      } else if (key === 'pretty') {
        if (typeof option !== 'boolean') fail('key pretty failed cast to bool');
        explicit = option;
      } else {
        fail(`object contained unknown key ${key}`);
      }
    }
    return (explicit ?? implicit) ? prefix + marshalIndent(value, prefix, indent) : marshalCompact(value);
  },
  'json.patch': (_evaluation, document, patches) => {
    if (!Array.isArray(patches)) fail('operand 2 must be array');
    return applyPatch(document, patches);
  },
};
