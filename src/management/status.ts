// Status reports as OPA's status plugin sends them (v1/plugins/status): a JSON POST to /status/<partition>
// with the labels, each bundle's revision, activation and download times and errors, the decision log
// upload's error and the plugins' states, sent when any of it changes; a failed report is retried with
// back-off, always with the latest state.
import { describeError } from '../errors.js';
import type { Logger } from '../logger.js';
import { backoffDelayMs, type BundleState } from './bundle-downloader.js';
import type { StatusSetting } from './config-file.js';
import type { ServiceClient } from './service-client.js';

export interface StatusReporterOptions {
  setting: StatusSetting;
  client: ServiceClient;
  labels: Readonly<Record<string, string>>;
  bundles(): readonly BundleState[];
  /** The decision log upload's last error, when it is configured. */
  decisionLogs?: () => { code?: string; message?: string; httpCode?: number };
  logger: Logger;
  random?: () => number;
}

export interface StatusReporter {
  /** Something may have changed: a report goes out if the status differs from the last one sent. */
  changed(): void;
  /** The report as it would be sent now. */
  snapshot(): StatusReport;
  stop(): void;
}

export interface StatusReport {
  labels: Readonly<Record<string, string>>;
  bundles: Record<string, Record<string, unknown>>;
  decision_logs?: Record<string, unknown>;
  plugins: Record<string, { state: 'OK' | 'NOT_READY' | 'ERR'; message?: string }>;
}

// Go's zero time.Time, which OPA reports for a time that has not happened yet.
const NEVER = '0001-01-01T00:00:00Z';

export function createStatusReporter(options: StatusReporterOptions): StatusReporter {
  const { setting, client } = options;
  const random = options.random ?? Math.random;
  const log = options.logger.child({ component: 'status' });
  let lastSent = '';
  let sending = false;
  let again = false;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const snapshot = (): StatusReport => {
    const bundles = options.bundles();
    const report: StatusReport = {
      labels: options.labels,
      bundles: Object.fromEntries(
        bundles.map((bundle) => [
          bundle.name,
          {
            name: bundle.name,
            ...(bundle.activeRevision === '' ? {} : { active_revision: bundle.activeRevision }),
            last_successful_activation: bundle.lastSuccessfulActivation ?? NEVER,
            type: bundle.type ?? 'snapshot',
            last_successful_download: bundle.lastSuccessfulDownload ?? NEVER,
            last_successful_request: bundle.lastSuccessfulRequest ?? NEVER,
            last_request: bundle.lastRequest ?? NEVER,
            ...(bundle.code === undefined ? {} : { code: bundle.code, message: bundle.message, ...(bundle.httpCode ? { http_code: bundle.httpCode } : {}) }),
          },
        ]),
      ),
      plugins: {
        envoy_ext_authz_grpc: { state: 'OK' },
        ...(bundles.length === 0 ? {} : { bundle: { state: bundles.every((bundle) => bundle.activeRevision !== '' || bundle.lastSuccessfulActivation !== undefined) ? 'OK' : 'NOT_READY' } }),
        status: { state: 'OK' },
      },
    };
    const logs = options.decisionLogs?.();
    if (logs !== undefined) {
      report.plugins['decision_logs'] = { state: 'OK' };
      report.decision_logs = { ...(logs.code === undefined ? {} : { code: logs.code, message: logs.message }), ...(logs.httpCode ? { http_code: logs.httpCode } : {}) };
    }
    return report;
  };

  /** The part of a report that counts as a change: not the times of requests that changed nothing. */
  const fingerprint = (report: StatusReport): string =>
    JSON.stringify({ ...report, bundles: Object.fromEntries(Object.entries(report.bundles).map(([name, bundle]) => [name, { ...bundle, last_request: undefined, last_successful_request: undefined }])) });

  const send = async (): Promise<void> => {
    if (stopped) return;
    if (sending) {
      again = true;
      return;
    }
    const report = snapshot();
    const print = fingerprint(report);
    if (print === lastSent) return;
    sending = true;
    let problem: string | undefined;
    try {
      if (setting.console) log.info({ status: report }, 'status report');
      const response = await client.send({
        method: 'POST',
        resource: setting.resource,
        headers: { 'content-type': 'application/json' },
        body: Buffer.from(JSON.stringify(report)),
        headerTimeoutMs: (client.service.responseHeaderTimeoutSeconds || 10) * 1000,
        maxBodyBytes: 64 * 1024,
      });
      if (response.status < 200 || response.status >= 300) problem = `status update failed, server replied with HTTP ${response.status}`;
    } catch (error) {
      problem = `status update failed: ${describeError(error)}`;
    } finally {
      sending = false;
    }
    if (problem === undefined) {
      lastSent = print;
      failures = 0;
      if (again) {
        again = false;
        void send();
      }
      return;
    }
    failures++;
    log.error({ error: problem }, 'status report failed; retrying with the latest status');
    clearTimeout(timer);
    timer = setTimeout(() => void send(), Math.max(100, backoffDelayMs(failures, 60_000, random)));
    timer.unref();
  };

  return {
    changed: () => void send(),
    snapshot,
    stop(): void {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
