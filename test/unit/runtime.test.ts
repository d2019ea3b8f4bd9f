// src/runtime.ts: the validated config becomes the runtime objects once (the trust domains, the token verifier
// with its key files read once, the gRPC body decoder, the first policy), shared by the check context; every
// file problem joins the config problems in one ConfigError.
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { readServeConfig, parseServeConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { createRuntime } from '../../src/runtime.js';
import { writeBookDescriptor } from '../helpers/grpc-descriptor.js';
import { createSigningKey, jwksOf, writeJsonFile, writeTextFile } from '../helpers/jwt.js';

// Counts the reads of each file, so that "read once" is observed rather than assumed.
const reads = vi.hoisted(() => new Map<string, number>());
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const readFileSync = ((path: Parameters<typeof fs.readFileSync>[0], ...rest: unknown[]) => {
    reads.set(String(path), (reads.get(String(path)) ?? 0) + 1);
    return (fs.readFileSync as (...args: unknown[]) => unknown)(path, ...rest);
  }) as typeof fs.readFileSync;
  return { ...fs, readFileSync, default: { ...fs, readFileSync } };
});

describe('createRuntime', () => {
  it('builds each object once and shares it: trust domains, token verifier, gRPC body decoder, check context', async () => {
    const jwks = writeJsonFile(jwksOf(await createSigningKey('k1')));
    const config = writeTextFile(`jwt-issuers:\n  - issuer: https://issuer.example\n    jwks-file: ${jwks}\n    audiences: [api]\n`, 'runtime-config.yaml');
    const descriptor = writeBookDescriptor();
    reads.clear();
    const runtime = await createRuntime(parseServeConfig(['--config', config, '--proto-descriptor', descriptor, '--trust-domain-aliases', 'old.example'], {}));
    expect(reads.get(jwks)).toBe(1);
    expect(reads.get(descriptor)).toBe(1);
    expect(runtime.identity.trustDomains).toBe(runtime.trustDomains);
    expect(runtime.trustDomains.isLocal('old.example')).toBe(true);
    expect(runtime.checkContext.identity).toBe(runtime.identity);
    expect(runtime.checkContext.grpcDescriptor).toBe(runtime.grpcBodyDecoder);
    expect(runtime.grpcBodyDecoder).toBeDefined();
    expect(runtime.identity.tokens?.issuers.has('https://issuer.example')).toBe(true);
    expect(runtime.checkContext.policy()).toBe(runtime.policies.current);
    expect(runtime.plan.rulesFile).toMatch(/policies\/default\/rules\.yaml$/);
  });

  it('lists the bad values and every file that cannot be used in one ConfigError', async () => {
    const badKeys = writeTextFile('{"keys": [', 'runtime-bad-jwks.json');
    const config = writeTextFile(`jwt-issuers:\n  - issuer: https://issuer.example\n    jwks-file: ${badKeys}\n    audiences: [api]\n`, 'runtime-bad-config.yaml');
    const badRules = writeTextFile('rules: [{name: x, action: MAYBE}]\n', 'runtime-bad-rules.yaml');
    const { config: values, problems } = readServeConfig(
      ['--config', config, '--proto-descriptor', join(badKeys, '..', 'missing.pb'), '--rules', badRules, '--grpc-addr', 'nowhere'],
      {},
    );
    const error = await createRuntime(values, problems).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    const listed = (error as ConfigError).problems.join('\n');
    expect(listed).toContain('--grpc-addr: "nowhere" is not HOST:PORT');
    expect(listed).toContain('--proto-descriptor: ');
    expect(listed).toContain('missing.pb: cannot read the proto descriptor');
    expect(listed).toContain(`jwt-issuers: https://issuer.example: ${badKeys}: not a usable JWKS`);
    expect(listed).toContain(badRules);
    expect((error as ConfigError).problems.length).toBeGreaterThanOrEqual(4);
  });

  it('stops at bad trust domains: the key files and rules compile against them', async () => {
    const { config, problems } = readServeConfig(['--trust-domain', 'spiffe://bad'], {});
    const error = (await createRuntime(config, problems).catch((caught: unknown) => caught)) as ConfigError;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.problems).toEqual([expect.stringContaining('is not a valid trust domain')]);
  });
});
