// How many CPUs this process may use: the cores it may run on (affinity), capped by its cgroup's CPU quota,
// as a container runtime sets it from a Kubernetes CPU limit.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** The files a CPU quota is read from: cgroup v2, then cgroup v1. */
const CGROUP_V2_CPU_MAX = '/sys/fs/cgroup/cpu.max';
const CGROUP_V1_QUOTA = '/sys/fs/cgroup/cpu/cpu.cfs_quota_us';
const CGROUP_V1_PERIOD = '/sys/fs/cgroup/cpu/cpu.cfs_period_us';

/**
 * The CPUs a quota allows, from cgroup v2's cpu.max text (`max 100000` = none, `150000 100000` = 1.5);
 * undefined when there is no quota or the text is not one.
 */
export function cpusOfCpuMax(text: string): number | undefined {
  const [quota, period] = text.trim().split(/\s+/);
  if (quota === undefined || quota === 'max' || period === undefined) return undefined;
  return cpusOfQuota(Number(quota), Number(period));
}

function cpusOfQuota(quota: number, period: number): number | undefined {
  if (!Number.isFinite(quota) || !Number.isFinite(period) || quota <= 0 || period <= 0) return undefined;
  return quota / period;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The CPU quota of this process's cgroup in CPUs, or undefined when it has none (or none is readable). */
export function cgroupCpuQuota(read: (path: string) => string | undefined = readText): number | undefined {
  const v2 = read(CGROUP_V2_CPU_MAX);
  if (v2 !== undefined) return cpusOfCpuMax(v2);
  const quota = read(CGROUP_V1_QUOTA);
  const period = read(CGROUP_V1_PERIOD);
  return quota === undefined || period === undefined ? undefined : cpusOfQuota(Number(quota), Number(period));
}

/**
 * The workers for `cores` CPUs to run on and a `quota` in CPUs (undefined: none): the cores, capped by the
 * quota rounded down (as Go's automaxprocs does: a worker beyond the quota only adds throttling), at least 1.
 */
export function workersFor(cores: number, quota: number | undefined): number {
  const allowed = quota === undefined ? cores : Math.min(cores, Math.floor(quota));
  return Math.max(1, allowed);
}

/** The number of workers `--workers auto` starts: the CPUs this process may use, cgroup quota included. */
export function usableCpus(): number {
  return workersFor(availableParallelism(), cgroupCpuQuota());
}
