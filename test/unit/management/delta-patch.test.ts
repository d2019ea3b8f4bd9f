import { describe, expect, it } from 'vitest';
import { applyPatch, readPatch } from '../../../src/management/delta-patch.js';
import { ConfigError } from '../../../src/errors.js';

const patch = (data: unknown): Buffer => Buffer.from(JSON.stringify({ data }));
const apply = (document: Record<string, unknown>, data: unknown): Record<string, unknown> => applyPatch('bundle b', document, readPatch('bundle b', patch(data)));

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
}

describe('readPatch (patch.json as OPA reads it)', () => {
  it('reads the operations with their unescaped paths; a missing value is null, as Go decodes it', () => {
    expect(readPatch('b', patch([{ op: 'upsert', path: '/a/b~1c/d~0e/f%20g', value: 1 }, { op: 'remove', path: 'x/' }]))).toEqual([
      { op: 'upsert', path: '/a/b~1c/d~0e/f%20g', segments: ['a', 'b/c', 'd~e', 'f g'], value: 1 },
      { op: 'remove', path: 'x/', segments: ['x'], value: null },
    ]);
    expect(readPatch('b', Buffer.from('{}'))).toEqual([]);
  });

  it.each([
    ['an operation OPA does not know', [{ op: 'add', path: '/a', value: 1 }], 'bad patch operation "add"'],
    ['no op', [{ path: '/a' }], 'bad patch operation ""'],
    ['a path that is not a string', [{ op: 'remove', path: 3 }], 'path must be a string'],
    ['a path that does not unescape', [{ op: 'remove', path: '/a%zz' }], 'error parsing patch path'],
    ['an upsert of the root', [{ op: 'upsert', path: '/', value: {} }], 'upsert of the root'],
    ['an entry that is no object', ['remove /a'], 'must be an object with op and path'],
  ])('refuses %s', (_case, data, message) => {
    expect(problemsOf(() => readPatch('bundle b', patch(data)))).toEqual([expect.stringContaining(message)]);
  });

  it('refuses a patch.json that is not JSON or has no list', () => {
    expect(problemsOf(() => readPatch('bundle b', Buffer.from('{')))).toEqual([expect.stringContaining('patch.json is not JSON')]);
    expect(problemsOf(() => readPatch('bundle b', Buffer.from('{"data": {}}')))).toEqual(['bundle b: patch.json: "data" must be a list of operations']);
  });
});

describe('applyPatch (OPA in-memory store semantics)', () => {
  it.each([
    ['upsert a new member, creating the objects on the way', { a: 1 }, [{ op: 'upsert', path: '/x/y/z', value: [1] }], { a: 1, x: { y: { z: [1] } } }],
    ['upsert an existing member replaces it', { a: { b: 1 } }, [{ op: 'upsert', path: '/a/b', value: 2 }], { a: { b: 2 } }],
    ['upsert at an array index inserts', { l: [1, 3] }, [{ op: 'upsert', path: '/l/1', value: 2 }], { l: [1, 2, 3] }],
    ['upsert at - (or the length) appends', { l: [1] }, [{ op: 'upsert', path: '/l/-', value: 2 }, { op: 'upsert', path: '/l/2', value: 3 }], { l: [1, 2, 3] }],
    ['remove a member', { a: { b: 1, c: 2 } }, [{ op: 'remove', path: '/a/b' }], { a: { c: 2 } }],
    ['remove an array element', { l: [1, 2, 3] }, [{ op: 'remove', path: '/l/0' }], { l: [2, 3] }],
    ['replace an existing member', { a: 1 }, [{ op: 'replace', path: '/a', value: { deep: true } }], { a: { deep: true } }],
    ['replace an array element', { l: [1, 2] }, [{ op: 'replace', path: '/l/1', value: 9 }], { l: [1, 9] }],
    ['replace the root', { a: 1 }, [{ op: 'replace', path: '/', value: { b: 2 } }], { b: 2 }],
    ['operations in order, each on what the last left', {}, [{ op: 'upsert', path: '/a', value: { n: 1 } }, { op: 'replace', path: '/a/n', value: 2 }, { op: 'remove', path: '/a' }], {}],
    ['an own __proto__ member, not a prototype', {}, [{ op: 'upsert', path: '/__proto__/polluted', value: true }], JSON.parse('{"__proto__": {"polluted": true}}')],
  ])('%s', (_case, document, data, expected) => {
    const before = structuredClone(document);
    const result = apply(document, data);
    expect(result).toEqual(expected);
    expect(JSON.stringify(result)).toBe(JSON.stringify(expected));
    expect(document).toEqual(before); // the document in force is never changed
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it.each([
    ['remove a member that is not there', { a: 1 }, [{ op: 'remove', path: '/b' }], 'the path does not exist'],
    ['replace a member that is not there', { a: 1 }, [{ op: 'replace', path: '/b', value: 1 }], 'the path does not exist'],
    ['remove below a missing member', {}, [{ op: 'remove', path: '/a/b' }], 'the path does not exist'],
    ['upsert through a value that is not an object', { a: 'text' }, [{ op: 'upsert', path: '/a/b', value: 1 }], 'is not an object (a write conflict)'],
    ['an index beyond the array', { l: [1] }, [{ op: 'replace', path: '/l/5', value: 1 }], '"5" is not an index of the array there'],
    ['a key into an array', { l: [1] }, [{ op: 'remove', path: '/l/x' }], '"x" is not an index of the array there'],
    ['remove the root', { a: 1 }, [{ op: 'remove', path: '/' }], 'the root cannot be removed'],
    ['replace the root with a list', { a: 1 }, [{ op: 'replace', path: '', value: [] }], 'the root must be an object'],
  ])('fails on %s, naming the operation', (_case, document, data, message) => {
    const problems = problemsOf(() => apply(document, data));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^bundle b: patch\.json data\[\d\] \(/);
    expect(problems[0]).toContain(message);
  });

  it('applies nothing when a later operation fails (the document in force stays whole)', () => {
    const document = { a: 1 };
    expect(problemsOf(() => apply(document, [{ op: 'upsert', path: '/b', value: 2 }, { op: 'remove', path: '/missing' }]))).toHaveLength(1);
    expect(document).toEqual({ a: 1 });
  });
});
