// src/management/bundle-set.ts with bundles built by the pinned opa: a policy bundle and a data bundle with
// roots of their own make one policy; overlapping roots, data outside the roots and two policies are refused,
// and the set in force stays.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BundleSetting } from '../../../src/management/config-file.js';
import { createBundleSet } from '../../../src/management/bundle-set.js';
import { ConfigError } from '../../../src/errors.js';
import { buildBundle } from '../../helpers/policies.js';

const POLICY = buildBundle({
  files: {
    '.manifest': JSON.stringify({ roots: ['envoy'] }),
    'authz.rego': 'package envoy.authz\ndefault allow := false\nallow if input.path in data.acl.paths\n',
  },
  revision: 'p1',
  bundleMode: true,
});
const dataBundle = (paths: string[], roots: string[] = ['acl'], revision = 'd1'): Buffer =>
  buildBundle({ files: { '.manifest': JSON.stringify({ roots }), 'acl/data.json': JSON.stringify({ paths }) }, revision, target: 'rego', bundleMode: true });

function setting(name: string): BundleSetting {
  return {
    name,
    service: { name: 's', url: 'http://127.0.0.1:1', headers: {}, allowInsecureTls: false, responseHeaderTimeoutSeconds: 10 },
    resource: `bundles/${name}`,
    persist: false,
    sizeLimitBytes: 10 * 1024 * 1024,
    minDelaySeconds: 1,
    maxDelaySeconds: 1,
  };
}

/** A bundle packed by hand with tar: opa build itself refuses data outside the roots, a server might not. */
function handPacked(files: Record<string, string>): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'meshwarden-hand-bundle-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, 'root', name, '..'), { recursive: true });
    writeFileSync(join(dir, 'root', name), text);
  }
  execFileSync('tar', ['-czf', join(dir, 'bundle.tar.gz'), '-C', join(dir, 'root'), '.']);
  return readFileSync(join(dir, 'bundle.tar.gz'));
}

async function problemOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.join('; ');
    throw error;
  }
  return 'accepted';
}

const allows = (policy: { evaluate(input: string): unknown } | undefined, path: string): boolean =>
  (policy!.evaluate(JSON.stringify({ path })) as { result: boolean }[])[0]!.result;

describe('a policy bundle and a data bundle with disjoint roots', () => {
  it('make one policy once both are there, and a new data bundle re-makes it', async () => {
    const set = createBundleSet(['policy', 'data'], { decision: 'envoy/authz/allow' });
    const first = await set.activate(setting('data'), dataBundle(['/a']), 'data-url');
    expect(first).toEqual({ kind: 'snapshot', revision: 'd1' });
    const second = await set.activate(setting('policy'), POLICY, 'policy-url');
    expect(second.revision).toBe('p1');
    expect(second.policy!.source).toBe('policy-url');
    expect(allows(second.policy, '/a')).toBe(true);
    expect(allows(second.policy, '/b')).toBe(false);
    const third = await set.activate(setting('data'), dataBundle(['/b'], ['acl'], 'd2'), 'data-url');
    expect(third.revision).toBe('d2');
    expect(allows(third.policy, '/a')).toBe(false);
    expect(allows(third.policy, '/b')).toBe(true);
  });

  it('refuses overlapping roots, data outside the roots, a second policy and no policy, keeping the set in force', async () => {
    const set = createBundleSet(['policy', 'data'], { decision: 'envoy/authz/allow' });
    await set.activate(setting('policy'), POLICY, 'policy-url');
    const good = await set.activate(setting('data'), dataBundle(['/a']), 'data-url');
    expect(await problemOf(set.activate(setting('data'), dataBundle(['/a'], ['acl', 'envoy/extra']), 'data-url'))).toContain('its roots overlap: "envoy" of policy and "envoy/extra" of data');
    expect(await problemOf(set.activate(setting('data'), handPacked({ '.manifest': '{"roots": ["other"]}', 'acl/data.json': '{"paths": ["/a"]}' }), 'data-url'))).toContain('data outside the manifest\'s roots (other): acl');
    expect(await problemOf(set.activate(setting('data'), buildBundle({ files: { '.manifest': JSON.stringify({ roots: ['second'] }), 'x.rego': 'package second\nallow := true\n' }, bundleMode: true, entrypoint: 'second/allow' }), 'data-url'))).toContain('policy and data both carry a policy');
    const unrooted = createBundleSet(['one', 'two'], { decision: 'envoy/authz/allow' });
    await unrooted.activate(setting('one'), buildBundle({ files: { 'authz.rego': 'package envoy.authz\nallow := true\n' } }), 'one-url');
    expect(await problemOf(unrooted.activate(setting('two'), buildBundle({ files: { 'data.json': '{"x": 1}' }, target: 'rego' }), 'two-url'))).toContain('its roots overlap: "" of one and "" of two');
    const dataOnly = createBundleSet(['data'], { decision: 'envoy/authz/allow' });
    expect(await problemOf(dataOnly.activate(setting('data'), dataBundle(['/a']), 'data-url'))).toContain('no bundle carries a policy');
    // After every refusal the set still decides as it did.
    expect(allows(good.policy, '/a')).toBe(true);
    const again = await set.activate(setting('data'), dataBundle(['/c'], ['acl'], 'd3'), 'data-url');
    expect(allows(again.policy, '/c')).toBe(true);
  });
});

/** OPA's delta bundle: a .manifest and a patch.json of data operations. */
const delta = (operations: unknown[], manifest: Record<string, unknown> = { roots: ['acl'], revision: 'd1+1' }, extra: Record<string, string> = {}): Buffer =>
  handPacked({ '.manifest': JSON.stringify(manifest), 'patch.json': JSON.stringify({ data: operations }), ...extra });

describe('a delta bundle onto the data bundle in force', () => {
  it('patches the data in force and re-makes the policy with it; its revision becomes the bundle\'s', async () => {
    const set = createBundleSet(['policy', 'data'], { decision: 'envoy/authz/allow' });
    await set.activate(setting('policy'), POLICY, 'policy-url');
    await set.activate(setting('data'), dataBundle(['/a']), 'data-url');
    const patched = await set.activate(setting('data'), delta([{ op: 'upsert', path: '/acl/paths/-', value: '/b' }]), 'data-url');
    expect(patched).toMatchObject({ kind: 'delta', revision: 'd1+1' });
    expect(allows(patched.policy, '/a')).toBe(true);
    expect(allows(patched.policy, '/b')).toBe(true);
    // The next delta builds on that one.
    const next = await set.activate(setting('data'), delta([{ op: 'remove', path: '/acl/paths/0' }], { roots: ['acl'], revision: 'd1+2' }), 'data-url');
    expect(allows(next.policy, '/a')).toBe(false);
    expect(allows(next.policy, '/b')).toBe(true);
  });

  it('refuses a delta with other roots, a bad operation, policy or data files, and keeps the data in force', async () => {
    const set = createBundleSet(['policy', 'data'], { decision: 'envoy/authz/allow' });
    await set.activate(setting('policy'), POLICY, 'policy-url');
    const good = await set.activate(setting('data'), dataBundle(['/a']), 'data-url');
    const upsertB = { op: 'upsert', path: '/acl/paths/-', value: '/b' };
    expect(await problemOf(set.activate(setting('data'), delta([upsertB], { roots: ['acl', 'more'] }), 'data-url'))).toContain('delta bundle has wasm resolvers or manifest roots that are different');
    expect(await problemOf(set.activate(setting('data'), delta([upsertB], {}), 'data-url'))).toContain('delta bundle has wasm resolvers or manifest roots that are different');
    expect(await problemOf(set.activate(setting('data'), delta([{ op: 'upsert', path: '/envoy/x', value: 1 }]), 'data-url'))).toContain("do not permit data patch at path '/envoy/x'");
    expect(await problemOf(set.activate(setting('data'), delta([{ op: 'remove', path: '/acl/missing' }]), 'data-url'))).toContain('(remove /acl/missing): the path does not exist');
    expect(await problemOf(set.activate(setting('data'), delta([{ op: 'move', path: '/acl/paths' }]), 'data-url'))).toContain('bad patch operation "move"');
    expect(await problemOf(set.activate(setting('data'), delta([upsertB], undefined, { 'x.rego': 'package acl\nx := 1\n' }), 'data-url'))).toContain('but policy files found');
    expect(await problemOf(set.activate(setting('data'), delta([upsertB], undefined, { 'acl/data.json': '{}' }), 'data-url'))).toContain('but data files found');
    expect(await problemOf(set.activate({ ...setting('data'), persist: true }, delta([upsertB]), 'data-url'))).toContain('persisting delta bundle to disk is not supported');
    // Each delta within size_limit_bytes, the data they grow is bounded by it too.
    const small = { ...setting('data'), sizeLimitBytes: 2_000 };
    await set.activate(small, delta([{ op: 'upsert', path: '/acl/big', value: 'x'.repeat(1_200) }]), 'data-url');
    expect(await problemOf(set.activate(small, delta([{ op: 'upsert', path: '/acl/big2', value: 'x'.repeat(1_200) }]), 'data-url'))).toContain('the data after the delta is');
    await set.activate(small, delta([{ op: 'remove', path: '/acl/big' }]), 'data-url');
    const signed = { ...setting('data'), signing: { excludeFiles: [], keys: new Map([['k', { key: 'secret', algorithm: 'HS256' }]]) } };
    expect(await problemOf(set.activate(signed, delta([upsertB]), 'data-url'))).toContain('a delta bundle carries no verified signature');
    // The data in force is what the last good bundle left: one more good delta applies onto it.
    expect(allows(good.policy, '/b')).toBe(false);
    const after = await set.activate(setting('data'), delta([upsertB]), 'data-url');
    expect(allows(after.policy, '/a')).toBe(true);
    expect(allows(after.policy, '/b')).toBe(true);
  });

  it('reads a patch.json without operations as a snapshot, as OPA does', async () => {
    const set = createBundleSet(['policy', 'data'], { decision: 'envoy/authz/allow' });
    await set.activate(setting('policy'), POLICY, 'policy-url');
    const empty = await set.activate(setting('data'), handPacked({ '.manifest': '{"roots": ["acl"]}', 'patch.json': '{"data": []}' }), 'data-url');
    expect(empty.kind).toBe('snapshot');
    expect(allows(empty.policy, '/a')).toBe(false);
  });
});
