import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { cgroupCpuQuota, cpusOfCpuMax, usableCpus, workersFor } from '../../../src/workers/cpus.js';

describe('cpusOfCpuMax', () => {
  it.each([
    ['max 100000\n', undefined],
    ['200000 100000\n', 2],
    ['150000 100000', 1.5],
    ['50000 100000', 0.5],
    ['', undefined],
    ['garbage', undefined],
    ['-1 100000', undefined],
  ])('%j → %s CPUs', (text, cpus) => {
    expect(cpusOfCpuMax(text)).toBe(cpus);
  });
});

describe('cgroupCpuQuota', () => {
  it('reads cgroup v2 first, then v1, and none when neither is there', () => {
    const files = (entries: Record<string, string>) => (path: string) => entries[path];
    expect(cgroupCpuQuota(files({ '/sys/fs/cgroup/cpu.max': '300000 100000' }))).toBe(3);
    expect(cgroupCpuQuota(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '50000\n', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n' }))).toBe(0.5);
    expect(cgroupCpuQuota(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1\n', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n' }))).toBeUndefined();
    expect(cgroupCpuQuota(files({}))).toBeUndefined();
  });
});

describe('workersFor', () => {
  it.each([
    [8, undefined, 8],
    [8, 2, 2],
    [8, 2.5, 2],
    [2, 4, 2],
    [4, 0.5, 1],
    [1, undefined, 1],
  ])('%d cores, quota %s → %d workers', (cores, quota, workers) => {
    expect(workersFor(cores, quota)).toBe(workers);
  });

  it('usableCpus is that for this process: at least one, at most its cores', () => {
    expect(usableCpus()).toBeGreaterThanOrEqual(1);
    expect(usableCpus()).toBeLessThanOrEqual(availableParallelism());
  });
});
