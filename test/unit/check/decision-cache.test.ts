// src/check/decision-cache.ts: each distinct policy result decided once, within a bound in entries and bytes.
import { describe, expect, it } from 'vitest';
import { DECISION_CACHE_LIMITS, decidedFor, decisionCacheUsage, type DecisionSettings } from '../../../src/check/decision-cache.js';
import type { Policy } from '../../../src/check/policy.js';

const policy = { source: 'test', decision: 'test/allow', revision: 'r1' } as unknown as Policy;
const settings = (): DecisionSettings => ({ shadow: false, validStatuses: new Set([403]) });
const denyWithBody = (body: string): string => JSON.stringify([{ result: { allowed: false, http_status: 403, body } }]);

describe('decidedFor', () => {
  it('decides a repeated result once', () => {
    const context = settings();
    const first = decidedFor(context, policy, denyWithBody('no'));
    expect(decidedFor(context, policy, denyWithBody('no'))).toBe(first);
    expect(first.allowed).toBe(false);
    expect(decisionCacheUsage(context).entries).toBe(1);
  });

  it('1,000 distinct 1 MiB results are decided, and none is kept', () => {
    const context = settings();
    for (let i = 0; i < 1000; i++) {
      const decided = decidedFor(context, policy, denyWithBody(`${i}` + 'x'.repeat(1024 * 1024)));
      expect(decided.decision.httpStatus).toBe(403);
    }
    expect(decisionCacheUsage(context)).toEqual({ bytes: 0, entries: 0 });
  });

  it('distinct results just under the key bound fill the cache only up to its bytes', () => {
    const context = settings();
    const padding = 'y'.repeat(DECISION_CACHE_LIMITS.maxKeyLength - 100);
    for (let i = 0; i < 3000; i++) decidedFor(context, policy, denyWithBody(`${i}${padding}`));
    const usage = decisionCacheUsage(context);
    expect(usage.bytes).toBeLessThanOrEqual(DECISION_CACHE_LIMITS.maxBytes);
    expect(usage.entries).toBeGreaterThan(0);
    expect(usage.entries).toBeLessThan(DECISION_CACHE_LIMITS.maxEntries);
  });

  it('distinct small results keep at most maxEntries', () => {
    const context = settings();
    for (let i = 0; i < 3000; i++) decidedFor(context, policy, denyWithBody(`n${i}`));
    expect(decisionCacheUsage(context).entries).toBe(DECISION_CACHE_LIMITS.maxEntries);
  });
});
