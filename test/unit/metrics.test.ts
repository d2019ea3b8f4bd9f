// src/metrics.ts: decisions are counted in plain arrays and folded into the Prometheus counters on scrape.
import { describe, expect, it } from 'vitest';
import { createDecisionMetrics, OTHER_RULES } from '../../src/metrics.js';

async function series(metrics: ReturnType<typeof createDecisionMetrics>, name: string): Promise<string[]> {
  const text = await metrics.registry.metrics();
  return text.split('\n').filter((line) => line.startsWith(name));
}

describe('decision metrics', () => {
  it('count every decision once, however often and whenever they are scraped', async () => {
    const metrics = createDecisionMetrics();
    expect(await series(metrics, 'meshwarden_decisions_total{result="allow",reason="allowed"}')).toEqual(['meshwarden_decisions_total{result="allow",reason="allowed"} 0']);
    for (let i = 0; i < 3; i++) metrics.observe('allowed', 0.0002);
    metrics.observe('policy_denied', 0.0003);
    expect(await series(metrics, 'meshwarden_decisions_total{result="allow",reason="allowed"}')).toEqual(['meshwarden_decisions_total{result="allow",reason="allowed"} 3']);
    expect(await series(metrics, 'meshwarden_decisions_total{result="allow",reason="allowed"}')).toEqual(['meshwarden_decisions_total{result="allow",reason="allowed"} 3']);
    metrics.observe('allowed', 0.0002);
    metrics.observe('request_parse_error', 0.0001);
    const text = await metrics.registry.metrics();
    expect(text).toContain('meshwarden_decisions_total{result="allow",reason="allowed"} 4');
    expect(text).toContain('meshwarden_decisions_total{result="deny",reason="policy_denied"} 1');
    expect(text).toContain('meshwarden_decisions_total{result="deny",reason="request_parse_error"} 1');
    expect(text).toContain('meshwarden_check_duration_seconds_count 6');
    expect(text).toContain('meshwarden_check_duration_seconds_bucket{le="0.00025"} 5');
  });

  it('count a shadow deny as an allowed decision and as a shadow deny', async () => {
    const metrics = createDecisionMetrics();
    metrics.observe('shadow_denied', 0.0002);
    metrics.observe('shadow_denied', 0.0002);
    const text = await metrics.registry.metrics();
    expect(text).toContain('meshwarden_decisions_total{result="allow",reason="shadow_denied"} 2');
    expect(text).toContain('meshwarden_shadow_denies_total 2');
    metrics.observe('shadow_denied', 0.0002);
    expect(await series(metrics, 'meshwarden_shadow_denies_total')).toEqual(['meshwarden_shadow_denies_total 3']);
  });

  it('count token verifications by kind and result, every series present from the start', async () => {
    const metrics = createDecisionMetrics();
    expect(await series(metrics, 'meshwarden_token_verifications_total{')).toHaveLength(18);
    metrics.tokenVerified('jwt', 'valid');
    metrics.tokenVerified('jwt', 'valid');
    metrics.tokenVerified('jwt_svid', 'keys_unavailable');
    const text = await metrics.registry.metrics();
    expect(text).toContain('meshwarden_token_verifications_total{kind="jwt",result="valid"} 2');
    expect(text).toContain('meshwarden_token_verifications_total{kind="jwt_svid",result="keys_unavailable"} 1');
    expect(text).toContain('meshwarden_token_verifications_total{kind="jwt",result="expired"} 0');
  });
});

describe('shadow rule series are bounded (a policy can name rules after the request)', () => {
  it('past 1,000 distinct names, and for overlong names, one series counts the rest', async () => {
    const metrics = createDecisionMetrics();
    for (let i = 0; i < 5000; i++) metrics.shadowRule(`rule-${i}`);
    metrics.shadowRule('x'.repeat(10_000));
    metrics.shadowRule('rule-7'); // a known name keeps its own series
    const values = (await metrics.registry.getSingleMetric('meshwarden_rule_shadow_denies_total')!.get()).values;
    expect(values.length).toBe(1001);
    expect(values.find((value) => value.labels['rule'] === OTHER_RULES)?.value).toBe(4001);
    expect(values.find((value) => value.labels['rule'] === 'rule-7')?.value).toBe(2);
  });
});
