// src/listeners/buffer-budget.ts: one bound for all unfinished requests; large ones may use three quarters of it.
import { describe, expect, it } from 'vitest';
import { BufferBudget, SMALL_MESSAGE_BYTES } from '../../../src/listeners/buffer-budget.js';

const MiB = 1024 * 1024;

describe('BufferBudget', () => {
  it('admits large messages up to three quarters of the budget and refuses the next', () => {
    const budget = new BufferBudget(40 * MiB);
    expect(budget.tryReserve(10 * MiB)).toBe(true);
    expect(budget.tryReserve(10 * MiB)).toBe(true);
    expect(budget.tryReserve(10 * MiB)).toBe(true);
    expect(budget.tryReserve(10 * MiB)).toBe(false);
    expect(budget.heldBytes).toBe(30 * MiB);
  });

  it('keeps the last quarter for small messages, and no more than the budget', () => {
    const budget = new BufferBudget(4 * MiB);
    expect(budget.tryReserve(3 * MiB)).toBe(true);
    let small = 0;
    while (budget.tryReserve(SMALL_MESSAGE_BYTES)) small++;
    expect(small).toBe(16);
    expect(budget.heldBytes).toBe(4 * MiB);
  });

  it('counts a request growing past the small size as large (HTTP bodies without content-length)', () => {
    const budget = new BufferBudget(4 * MiB);
    expect(budget.tryReserve(3 * MiB - SMALL_MESSAGE_BYTES / 2)).toBe(true);
    // A small body of 64 KiB fits; the same 64 KiB on top of 64 KiB already held makes a large request.
    expect(budget.tryReserve(SMALL_MESSAGE_BYTES, SMALL_MESSAGE_BYTES)).toBe(false);
    expect(budget.tryReserve(SMALL_MESSAGE_BYTES, 0)).toBe(true);
  });

  it('gives back what is released', () => {
    const budget = new BufferBudget(4 * MiB);
    expect(budget.tryReserve(3 * MiB)).toBe(true);
    expect(budget.tryReserve(3 * MiB)).toBe(false);
    budget.release(3 * MiB);
    expect(budget.heldBytes).toBe(0);
    expect(budget.tryReserve(3 * MiB)).toBe(true);
  });
});
