// Challenge ids are UUID v7 (time-ordered, 74 random bits) and challenges 256 fresh random bits:
// the pooled randomness behind both must never hand out the same bytes twice, across refills.
import { describe, expect, it } from 'vitest';
import { newChallenge, newChallengeId } from '../src/verifier/tokens/challenge-ids.js';

describe('challenge ids and bytes', () => {
  it('ids are version-7 UUIDs in the order of their times', () => {
    const earlier = newChallengeId(1_700_000_000_000);
    const later = newChallengeId(1_700_000_000_001);
    for (const id of [earlier, later]) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(earlier < later).toBe(true);
    expect(earlier.replace(/-/g, '').slice(0, 12)).toBe((1_700_000_000_000).toString(16).padStart(12, '0'));
  });

  it('no id or challenge repeats, over many refills of the pool', () => {
    const now = Date.now();
    const ids = new Set(Array.from({ length: 20_000 }, () => newChallengeId(now)));
    const challenges = new Set(Array.from({ length: 20_000 }, () => newChallenge()));
    expect(ids.size).toBe(20_000);
    expect(challenges.size).toBe(20_000);
    for (const c of [...challenges].slice(0, 100)) expect(c).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});
