// scripts/soak.mjs in its bounded form: 5 s of stalled gRPC streams, half-sent HTTP bodies and slow readers
// against the built CLI, alongside ordinary checks that must all be decided right, and the RSS back within
// its margin once the clients go (`npm run soak` runs the same for 60 s).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/tools.js';

describe('the soak, bounded', () => {
  it('decides every ordinary check right while stalled clients come and go, and the RSS comes back', async () => {
    const child = spawn(process.execPath, [join(ROOT, 'scripts', 'soak.mjs'), '--duration-ms', '5000', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    const summary = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as {
      waves: number;
      checks: number;
      wrongDecisions: number;
      errors: number;
      rssMiB: { before: number; peak: number; after: number; marginMiB: number };
      firstProblems: string[];
      passed: boolean;
    };
    console.log(`soak (5 s): ${JSON.stringify(summary)}${stderr === '' ? '' : `\n${stderr}`}`);
    expect(summary.firstProblems).toEqual([]);
    expect(summary.waves).toBeGreaterThanOrEqual(1);
    expect(summary.checks).toBeGreaterThan(20);
    expect(summary.wrongDecisions).toBe(0);
    expect(summary.errors).toBe(0);
    // The stalled clients did make the server hold memory (else this measures nothing)...
    expect(summary.rssMiB.peak - summary.rssMiB.before).toBeGreaterThan(50);
    // ...and it came back within the margin.
    expect(summary.rssMiB.after - summary.rssMiB.before).toBeLessThan(summary.rssMiB.marginMiB);
    expect(summary.passed).toBe(true);
    expect(code).toBe(0);
  }, 90_000);
});
