// What the bundle-download tests (an HTTP bundle server, an OCI registry, delta bundles) ask of a running
// server while it polls: whether a path is allowed now, its metrics, and waiting for a condition.
import { httpCheckRequest, type TestServer } from './server.js';

/** Whether a GET of `path` is allowed by the policy the server serves now. */
export async function allowed(server: TestServer, path: string): Promise<boolean> {
  const response = await server.client.check(httpCheckRequest({ path }));
  return (response['status']?.['code'] ?? 0) === 0;
}

/** Polls `condition` every 25 ms; resolves with the milliseconds it took, throws after `timeoutMs`. */
export async function waitFor(condition: () => Promise<boolean> | boolean, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return Date.now() - started;
}

/** The server's /metrics text (its admin endpoint must be on). */
export async function metricsOf(server: TestServer): Promise<string> {
  return (await fetch(`http://127.0.0.1:${server.serving.admin!.port}/metrics`)).text();
}
