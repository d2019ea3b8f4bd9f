// serve's TLS: the TlsSource for every listener from the --tls-* settings, its reloads logged and counted, its
// files watched. A first pair that cannot be used is a start-up error.
import type { ServeConfig } from '../config.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { DecisionMetrics } from '../metrics.js';
import { TlsMaterialError } from '../tls/material.js';
import { TlsSource } from '../tls/source.js';

export function startTls(config: Pick<ServeConfig, 'tlsCert' | 'tlsKey' | 'tlsClientCa' | 'tlsAllowedSpiffeIds'>, log: Logger, metrics: DecisionMetrics): TlsSource | undefined {
  if (config.tlsCert === undefined || config.tlsKey === undefined) return undefined;
  let tls: TlsSource;
  try {
    tls = new TlsSource({
      files: { cert: config.tlsCert, key: config.tlsKey, clientCa: config.tlsClientCa },
      allowedSpiffeIds: config.tlsAllowedSpiffeIds.length === 0 ? undefined : new Set(config.tlsAllowedSpiffeIds),
      onReload: (outcome) => {
        if (outcome.result === 'success') {
          metrics.tlsReloaded('success', outcome.material.notAfter);
          log.info({ cert: config.tlsCert, not_after: outcome.material.notAfter.toISOString() }, 'TLS certificate reloaded');
        } else {
          metrics.tlsReloaded('failure');
          log.error({ error: outcome.error }, 'TLS certificate reload failed; the pair in force keeps serving');
        }
      },
    });
  } catch (error) {
    if (error instanceof TlsMaterialError) throw new ConfigError([error.message]);
    throw error;
  }
  metrics.tlsReloaded('success', tls.current.notAfter);
  tls.watch((error) => log.error({ error }, 'watching the TLS files failed; reload with SIGHUP'));
  log.info(
    { mutual: tls.requiresClientCertificate, allowed_spiffe_ids: config.tlsAllowedSpiffeIds, not_after: tls.current.notAfter.toISOString() },
    'TLS on every listener',
  );
  return tls;
}
