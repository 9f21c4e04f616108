// A challenge's id and its random bytes, made cheaply: every login makes both.
// The id is a UUID v7 (RFC 9562): 48 bits of milliseconds, then 74 random bits — unguessable, and
// in time order, so the store's index on it grows at one end (one page a commit) instead of
// touching a random page for each new challenge (a v4 UUID: ~10 µs more per insert on SQLite).
// The random bits come from a buffer filled from the CSPRNG 8 KiB at a time (randomBytes(32) costs
// ~4 µs of call overhead for its 32 bytes); no byte of it is handed out twice.
import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 8192;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let offset = POOL_BYTES;

/** Where `n` fresh bytes start in the pool (refilled first when too few are left). */
function fresh(n: number): number {
  if (offset + n > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const at = offset;
  offset += n;
  return at;
}

/** 256 random bits, base64url without padding: what a token signs. */
export function newChallenge(): string {
  const at = fresh(32);
  return pool.toString('base64url', at, at + 32);
}

/** A UUID v7 for a challenge made at `now` (ms since the epoch). */
export function newChallengeId(now: number): string {
  const bytes = Buffer.allocUnsafe(16);
  bytes.writeUIntBE(now, 0, 6);
  const at = fresh(10);
  pool.copy(bytes, 6, at, at + 10);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
