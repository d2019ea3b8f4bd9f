// Prometheus counters for decisions, pre-bound at start-up so the Check path only increments.
import { Counter, Registry } from 'prom-client';
import { FAILURE_ANSWERS, type Reason } from './errors.js';

export interface DecisionMetrics {
  readonly registry: Registry;
  /** Counts one decision under its reason. */
  count(reason: Reason): void;
}

const REASONS: readonly Reason[] = ['allowed', 'policy_denied', 'shadow_denied', ...(Object.keys(FAILURE_ANSWERS) as Reason[])];

export function createDecisionMetrics(): DecisionMetrics {
  const registry = new Registry();
  const decisions = new Counter({
    name: 'meshwarden_decisions_total',
    help: 'Check decisions by result and reason',
    labelNames: ['result', 'reason'] as const,
    registers: [registry],
  });
  const shadowDenies = new Counter({
    name: 'meshwarden_shadow_denies_total',
    help: 'Requests a policy denied but shadow mode let pass',
    registers: [registry],
  });
  const bound = new Map<Reason, () => void>();
  for (const reason of REASONS) {
    const result = reason === 'allowed' || reason === 'shadow_denied' ? 'allow' : 'deny';
    const child = decisions.labels(result, reason);
    bound.set(reason, reason === 'shadow_denied' ? () => (child.inc(), shadowDenies.inc()) : () => child.inc());
  }
  return {
    registry,
    count(reason: Reason): void {
      bound.get(reason)?.();
    },
  };
}
