// `meshwarden eval --config-file`: the plugin section shapes the decision, but bundles to download are serve's;
// eval says so instead of deciding without a policy.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runEval } from '../../../src/commands/eval.js';
import { ROOT } from '../../helpers/tools.js';

it('refuses an OPA config file with bundles, naming the file and what to do', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshwarden-eval-opa-'));
  const config = join(dir, 'config.yaml');
  writeFileSync(config, 'services:\n  s:\n    url: http://127.0.0.1:1\nbundles:\n  authz: {}\n');
  const request = join(ROOT, 'examples', 'requests', 'analytics-get-data.json');
  await expect(runEval(['--request', request, '--config-file', config])).rejects.toThrow(`${config}: bundles: eval decides with a local policy`);
});
