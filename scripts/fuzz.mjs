#!/usr/bin/env node
// The full fuzz (issue 13): test/integration/fuzz.test.ts at 24,000 mutated CheckRequests (npm test runs it
// at 2,000). FUZZ_CASES and FUZZ_SEED override the size and the seed; the figures are printed as JSON.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const env = { ...process.env, FUZZ_CASES: process.env.FUZZ_CASES ?? '24000', FUZZ_SEED: process.env.FUZZ_SEED ?? String(Date.now() % 1_000_000) };
console.log(`fuzz: ${env.FUZZ_CASES} cases, seed ${env.FUZZ_SEED}`);
const run = spawnSync(process.execPath, [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', 'test/integration/fuzz.test.ts'], { cwd: root, env, stdio: 'inherit' });
process.exit(run.status ?? 1);
