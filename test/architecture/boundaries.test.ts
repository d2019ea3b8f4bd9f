// The boundaries of the house (README "Architecture", ../shared/STYLE.md): which folder of src/ may import which,
// and which libraries only one place may use. Every import of every file in src/ is read with TypeScript's own
// pre-processor (static, type-only, re-exports and dynamic import()) and held to the table below.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/tools.js';

/**
 * What each place may import of src/: a folder (`check/`) or a file (`errors.ts`). Every place may import
 * its own folder. A place not in the table may not be imported by anyone but `runtime.ts`, `commands/` and
 * `cli.ts`, which may import everything.
 */
export const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  'errors.ts': [],
  'logger.ts': [],
  'package-paths.ts': [],
  // Bounded caches, for whoever keeps what callers send (identity parses, policy results).
  'bounded-cache.ts': [],
  // The metric labels are the reason vocabularies of the decision and of token verification; build info names the version.
  'metrics.ts': ['errors.ts', 'identity/jwt.ts', 'package-paths.ts'],
  'envoy/': ['errors.ts'],
  'request/': ['envoy/', 'errors.ts'],
  'identity/': ['envoy/', 'errors.ts', 'bounded-cache.ts'],
  'check/': ['envoy/', 'request/', 'identity/', 'builtins/', 'errors.ts', 'bounded-cache.ts', 'logger.ts', 'metrics.ts'],
  // OPA's builtins for the wasm host: pure functions of their arguments, on node:crypto and their libraries.
  'builtins/': ['bounded-cache.ts'],
  'rules/': ['check/input.ts', 'check/policy.ts', 'identity/spiffe.ts', 'envoy/types.ts', 'errors.ts', 'package-paths.ts'],
  // The HTTP listener rebuilds the attributes Envoy would have sent over gRPC, the destination principal
  // from the XFCC element the local proxy appended among them: a pure parse of a header.
  'listeners/': ['check/answer.ts', 'envoy/', 'identity/xfcc.ts', 'tls/', 'errors.ts', 'logger.ts', 'metrics.ts'],
  // TLS material, its rotation and who may call: node:tls and the strict SPIFFE parser, nothing of the Check path.
  'tls/': ['identity/spiffe.ts', 'errors.ts'],
  // One span per Check: the entrance's tracing interface and the Envoy types; nothing decides here.
  'tracing/': ['check/answer.ts', 'envoy/'],
  // The management plane (OPA's config file, bundles from a service, their signatures): it builds policies
  // with the Check path's loader and reports through the log and the metrics; only runtime.ts, commands/,
  // config.ts (the config file's reader) and workers/ (whose primary runs it for every worker) use it.
  'management/': ['check/bundle.ts', 'check/policy.ts', 'check/check.ts', 'check/decision-log.ts', 'errors.ts', 'logger.ts', 'metrics.ts'],
  // The pure parsers of the values it validates: SPIFFE IDs, JWT settings, the metadata path of the source principal.
  'config.ts': ['errors.ts', 'identity/jwt.ts', 'identity/spiffe.ts', 'identity/metadata-principal.ts', 'listeners/address.ts', 'logger.ts', 'management/config-file.ts'],
  // The primary and its workers: a layer around commands/serve.ts's serve(); only cli.ts starts it. The
  // primary binds the listening addresses (listeners/address.ts) and hands connections over
  // (listeners/connection-source.ts); it runs the OPA config file's management plane for every worker
  // (management/), and relays policies and decision events between them (the check/ types they are made of).
  'workers/': [
    'commands/serve.ts',
    'commands/watch-file.ts',
    'config.ts',
    'runtime.ts',
    'listeners/admin.ts',
    'listeners/address.ts',
    'listeners/connection-source.ts',
    'management/',
    'check/check.ts',
    'check/decision-log.ts',
    'check/policy.ts',
    'errors.ts',
    'logger.ts',
    'metrics.ts',
  ],
  'runtime.ts': ['*'],
  'commands/': ['*'],
  'cli.ts': ['*'],
};

/** Libraries that only one place may import (the rest of the code goes through it). */
export const ONLY_IN: Readonly<Record<string, readonly string[]>> = {
  pino: ['logger.ts'],
  'prom-client': ['metrics.ts'],
  // identity/ verifies bearer tokens; management/signatures.ts verifies the JWS of a signed bundle.
  jose: ['identity/', 'management/signatures.ts'],
  // envoy/reflection.ts registers the reflection service on the server: the type of a grpc-js server only.
  '@grpc/grpc-js': ['listeners/', 'envoy/reflection.ts'],
  '@open-policy-agent/opa-wasm': ['check/policy.ts'],
  '@opentelemetry/api': ['tracing/'],
  '@opentelemetry/sdk-trace-base': ['tracing/'],
  '@opentelemetry/exporter-trace-otlp-http': ['tracing/'],
  protobufjs: ['envoy/', 'request/grpc-body.ts'],
  // the graphql.* builtins parse and validate with graphql-js.
  graphql: ['builtins/'],
};

/** The place (row of the table) a src-relative path belongs to: its file's row if it has one, else its folder's. */
function placeOf(path: string): string {
  if (path in MAY_IMPORT) return path;
  const slash = path.indexOf('/');
  return slash === -1 ? path : path.slice(0, slash + 1);
}

function covers(entry: string, path: string): boolean {
  return entry === '*' || entry === path || (entry.endsWith('/') && path.startsWith(entry));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : name.endsWith('.ts') ? [path] : [];
  });
}

/** Every boundary the files under `srcDir` break, as `importer -> imported (why)` lines. */
export function findViolations(srcDir: string): string[] {
  const violations: string[] = [];
  for (const file of sourceFiles(srcDir)) {
    const from = relative(srcDir, file);
    const place = placeOf(from);
    const allowed = MAY_IMPORT[place];
    for (const { fileName: specifier } of ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles) {
      if (specifier.startsWith('.')) {
        const target = relative(srcDir, resolve(dirname(file), specifier)).replace(/\.js$/, '.ts');
        if (target.startsWith('..')) {
          violations.push(`${from} -> ${specifier} (outside src/)`);
          continue;
        }
        if (placeOf(target) === place) continue;
        if (allowed === undefined) violations.push(`${from} -> ${target} (${place} has no row in the boundaries table)`);
        else if (!allowed.some((entry) => covers(entry, target))) violations.push(`${from} -> ${target} (${place} may import only ${allowed.join(', ') || 'nothing of src/'})`);
        continue;
      }
      const library = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!;
      const owners = ONLY_IN[library];
      if (owners !== undefined && !owners.some((owner) => covers(owner, from))) violations.push(`${from} -> ${library} (only ${owners.join(', ')} may import it)`);
    }
  }
  return violations;
}

describe('the boundaries of src/', () => {
  it('hold for every import of every file', () => {
    expect(findViolations(join(ROOT, 'src'))).toEqual([]);
  });

  it('has a row for every folder and top-level file of src/', () => {
    const places = new Set(sourceFiles(join(ROOT, 'src')).map((file) => placeOf(relative(join(ROOT, 'src'), file))));
    expect([...places].filter((place) => !(place in MAY_IMPORT))).toEqual([]);
  });

  it('fails on a forbidden import (a tree that breaks each kind of boundary)', () => {
    const src = join(mkdtempSync(join(tmpdir(), 'meshwarden-boundaries-')), 'src');
    const write = (path: string, text: string): void => {
      mkdirSync(dirname(join(src, path)), { recursive: true });
      writeFileSync(join(src, path), text);
    };
    write('config.ts', 'export const x = 1;\n');
    write('errors.ts', 'export const e = 1;\n');
    write('check/check.ts', "import { x } from '../config.js';\nimport type { R } from '../rules/library.js';\nimport { e } from '../errors.js';\n");
    write('envoy/codec.ts', "import { y } from '../check/response.js';\nexport const z = await import('../listeners/grpc.js');\n");
    write('listeners/grpc.ts', "import pino from 'pino';\nimport * as grpc from '@grpc/grpc-js';\nexport { y } from '../check/check.js';\n");
    write('rules/library.ts', "import { serve } from '../commands/serve.js';\n");
    write('commands/serve.ts', "import { x } from '../config.js';\nimport { y } from '../listeners/grpc.js';\n");
    write('newwing/thing.ts', 'export const t = 1;\n');
    expect(findViolations(src).sort()).toEqual(
      [
        'check/check.ts -> config.ts (check/ may import only envoy/, request/, identity/, builtins/, errors.ts, bounded-cache.ts, logger.ts, metrics.ts)',
        'check/check.ts -> rules/library.ts (check/ may import only envoy/, request/, identity/, builtins/, errors.ts, bounded-cache.ts, logger.ts, metrics.ts)',
        'envoy/codec.ts -> check/response.ts (envoy/ may import only errors.ts)',
        'envoy/codec.ts -> listeners/grpc.ts (envoy/ may import only errors.ts)',
        'listeners/grpc.ts -> pino (only logger.ts may import it)',
        'listeners/grpc.ts -> check/check.ts (listeners/ may import only check/answer.ts, envoy/, identity/xfcc.ts, tls/, errors.ts, logger.ts, metrics.ts)',
        'rules/library.ts -> commands/serve.ts (rules/ may import only check/input.ts, check/policy.ts, identity/spiffe.ts, envoy/types.ts, errors.ts, package-paths.ts)',
      ].sort(),
    );
  });
});
