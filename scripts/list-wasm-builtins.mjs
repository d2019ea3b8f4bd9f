#!/usr/bin/env node
// Lists the builtins that OPA's wasm target leaves to the host, asking the pinned opa itself: every builtin of
// `opa capabilities --current` is called from a tiny policy, compiled with `opa build -t wasm`, and the
// module's `builtins` export (the functions it imports from the host) is read.
//   node scripts/list-wasm-builtins.mjs                      write src/builtins/host-builtins.json
//   node scripts/list-wasm-builtins.mjs --check              fail if that file differs from what opa says
//   node scripts/list-wasm-builtins.mjs --opa PATH --print   print the list another opa gives (e.g. OEP's)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const OUT = join(root, 'src', 'builtins', 'host-builtins.json');

const args = process.argv.slice(2);
const opaIndex = args.indexOf('--opa');
const opa = opaIndex >= 0 ? resolve(args[opaIndex + 1]) : join(root, '.tools', 'bin', 'opa');
const mode = args.includes('--check') ? 'check' : args.includes('--print') ? 'print' : 'write';

// A batch this size compiles in about a second; a batch that fails to compile is split in two until the
// builtin that cannot be called from user policies (internal.*) is alone and left out.
const BATCH = 64;

/** The Rego statement that calls one builtin with arguments from input (so nothing is constant-folded). */
function callOf(builtin, index) {
  const decl = builtin.decl;
  if (decl.variadic !== undefined) return `r${index} if { ${builtin.name}(input.a0) }`;
  const arity = decl.args?.length ?? 0;
  const argList = Array.from({ length: arity }, (_, i) => `input.a${i}`);
  if (builtin.relation) return `r${index} if { ${builtin.name}(${argList.join(', ')}, _) }`;
  if (decl.result === undefined) return `r${index} if { ${builtin.name}(${argList.join(', ')}) }`;
  return `r${index} := ${builtin.name}(${argList.join(', ')})`;
}

/** Compiles a batch of builtins into one module; returns its imported builtin names, or null if it fails. */
function importedBuiltins(batch, dir) {
  const rego = `package probe\n\n${batch.map((builtin, index) => callOf(builtin, index)).join('\n')}\n`;
  writeFileSync(join(dir, 'probe.rego'), rego);
  const bundle = join(dir, 'bundle.tar.gz');
  try {
    execFileSync(opa, ['build', '-t', 'wasm', '-e', 'probe', '-o', bundle, 'probe.rego'], { cwd: dir, stdio: 'pipe' });
  } catch {
    return null;
  }
  const wasm = execFileSync('tar', ['-xzOf', bundle, '/policy.wasm'], { maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
  return readBuiltinsExport(wasm);
}

/** Instantiates a compiled module with stub imports and reads the JSON its `builtins()` export returns. */
function readBuiltinsExport(wasm) {
  const memory = new WebAssembly.Memory({ initial: 5 });
  const refuse = () => {
    throw new Error('a builtin was called while listing');
  };
  const env = { memory, opa_abort: refuse, opa_println: refuse };
  for (let arity = 0; arity <= 4; arity++) env[`opa_builtin${arity}`] = refuse;
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(wasm), { env });
  const address = exports.opa_json_dump(exports.builtins());
  const bytes = new Uint8Array(memory.buffer);
  let end = address;
  while (bytes[end] !== 0) end++;
  return Object.keys(JSON.parse(new TextDecoder().decode(bytes.subarray(address, end))));
}

function collect(batch, dir, found, skipped) {
  const names = importedBuiltins(batch, dir);
  if (names !== null) {
    for (const name of names) found.add(name);
    return;
  }
  if (batch.length === 1) {
    skipped.push(batch[0].name);
    return;
  }
  const half = Math.ceil(batch.length / 2);
  collect(batch.slice(0, half), dir, found, skipped);
  collect(batch.slice(half), dir, found, skipped);
}

function opaVersion() {
  const text = execFileSync(opa, ['version'], { encoding: 'utf8' });
  return /^Version: (\S+)/m.exec(text)?.[1] ?? 'unknown';
}

export function listHostBuiltins() {
  const capabilities = JSON.parse(execFileSync(opa, ['capabilities', '--current'], { encoding: 'utf8', maxBuffer: 64 << 20 }));
  const builtins = capabilities.builtins.filter((builtin) => builtin.decl?.type === 'function');
  const dir = mkdtempSync(join(tmpdir(), 'meshwarden-wasm-builtins-'));
  const found = new Set();
  const skipped = [];
  try {
    for (let start = 0; start < builtins.length; start += BATCH) {
      collect(builtins.slice(start, start + BATCH), dir, found, skipped);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { opa: opaVersion(), builtins: [...found].sort(), notCallable: skipped.sort(), total: builtins.length };
}

const result = listHostBuiltins();
const document = `${JSON.stringify(
  {
    $comment: 'Builtins that `opa build -t wasm` leaves to the host. Generated by scripts/list-wasm-builtins.mjs; do not edit.',
    opa: result.opa,
    builtins: result.builtins,
  },
  null,
  2,
)}\n`;
process.stderr.write(
  `${opa} (${result.opa}): ${result.builtins.length} of ${result.total} builtins left to the host; ` +
    `not callable from a policy: ${result.notCallable.join(', ') || 'none'}\n`,
);
if (mode === 'print') {
  process.stdout.write(document);
} else if (mode === 'check') {
  const committed = readFileSync(OUT, 'utf8');
  if (committed !== document) {
    process.stderr.write(`${OUT} is not what ${opa} gives; run node scripts/list-wasm-builtins.mjs\n`);
    process.exit(1);
  }
} else {
  writeFileSync(OUT, document);
  process.stderr.write(`wrote ${OUT}\n`);
}
