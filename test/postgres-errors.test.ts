// What a PostgreSQL failure becomes for the verifier's callers: the server away or going — by
// SQLSTATE, or a lost connection of any kind (EPIPE, ECONNRESET, a driver timeout) — is
// StoreUnavailableError (503 + Retry-After); a statement's own error stays itself; the verifier's
// own errors and programming errors pass through. bench:faults once met 500s here: EPIPE, five
// capital letters, was taken for a SQLSTATE.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { InvalidInputError, StoreUnavailableError } from '../src/verifier/errors.js';
import { translated } from '../src/verifier/store/postgres.js';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('PostgreSQL errors as the verifier reports them', () => {
  it('a lost connection of any kind is the store being unavailable', () => {
    for (const err of [withCode('write EPIPE', 'EPIPE'), withCode('read ECONNRESET', 'ECONNRESET'), withCode('connect ECONNREFUSED', 'ECONNREFUSED'), new Error('Connection terminated unexpectedly'), new Error('timeout exceeded when trying to connect')]) {
      expect([err.message, translated(err)]).toEqual([err.message, expect.any(StoreUnavailableError)]);
    }
  });

  it('by SQLSTATE: shutting down, starting up, cancelled, no slot, connection class 08 → unavailable; a statement error stays itself', () => {
    for (const code of ['57P01', '57P02', '57P03', '57014', '53300', '08006', '08P01']) expect(translated(withCode('server', code))).toBeInstanceOf(StoreUnavailableError);
    for (const code of ['23505', '42P01', '22P02', 'XX000']) {
      const err = withCode('statement', code);
      expect(translated(err)).toBe(err);
    }
    const database = new pg.DatabaseError('duplicate key', 0, 'error');
    database.code = '23505';
    expect(translated(database)).toBe(database);
  });

  it("the verifier's own errors and programming errors pass as they are", () => {
    for (const err of [new InvalidInputError('bad'), new TypeError('x is undefined'), new RangeError('too big')]) expect(translated(err)).toBe(err);
  });
});
