import type { Addon } from './addon';

/** Wall clock minus CLOCK_MONOTONIC, in ns: add it to a *_monotime_ns value to get Unix time. */
export function wallMinusMonotonicNs(addon: Addon): bigint {
  const before = addon.monotonicNs();
  const wall = BigInt(Date.now()) * 1_000_000n;
  const after = addon.monotonicNs();
  return wall - (before + after) / 2n;
}
