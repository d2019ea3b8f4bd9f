// `meshwarden serve`: one process (--workers 1), or a primary and its workers (src/workers/primary.ts), or,
// in a process the primary forked, one of those workers.
import cluster from 'node:cluster';
import { runServe } from '../commands/serve.js';
import { readServeConfig } from '../config.js';
import { usableCpus } from './cpus.js';
import { runPrimary } from './primary.js';
import { runWorker } from './worker.js';

export async function runServeCommand(argv: readonly string[]): Promise<number> {
  if (cluster.isWorker) {
    const code = await runWorker(argv);
    // The IPC channel would keep the worker alive after it drained.
    if (process.connected) process.disconnect();
    return code;
  }
  const { config, problems } = readServeConfig(argv, process.env);
  const count = config.workers ?? usableCpus();
  if (count === 1) return runServe(argv);
  return runPrimary(config, problems, count);
}
