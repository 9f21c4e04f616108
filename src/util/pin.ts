// A PIN (or PUK, SO PIN) as a value that cannot leak: validated once, kept outside the object
// (a WeakMap), and printed, serialised or inspected only as "[redacted]". It travels from the
// CLI and the kiosk down to the binding call, where `pinValue` hands the string over.
import { inspect } from 'node:util';
import { InvalidArgumentError, PinLengthError } from '../errors/index.js';
import { isWellFormed } from './well-formed.js';

const values = new WeakMap<Pin, string>();

export class Pin {
  /** What the secret is, for messages: "PIN", "SO PIN", "PUK", "new PIN". */
  readonly what: string;

  private constructor(value: string, what: string) {
    values.set(this, value);
    this.what = what;
  }

  /** A Pin from a string (or the Pin itself): a non-empty, well-formed string, else InvalidArgumentError. */
  static from(value: string | Pin, what = 'PIN'): Pin {
    if (value instanceof Pin) return value;
    if (typeof value !== 'string') throw new InvalidArgumentError(`${what} must be a string`);
    // A lone surrogate would reach the token as U+FFFD: a PIN nobody typed.
    if (!isWellFormed(value)) throw new InvalidArgumentError(`${what} is not well-formed text`);
    return new Pin(value, what);
  }

  /** Its length in bytes of UTF-8, which is what tokens bound. */
  get byteLength(): number {
    return Buffer.byteLength(values.get(this)!, 'utf8');
  }

  toString(): string {
    return '[redacted]';
  }

  toJSON(): string {
    return '[redacted]';
  }

  [inspect.custom](): string {
    return `Pin(${this.what}) [redacted]`;
  }
}

/** Internal: the secret itself, for the one call that sends it (and the login-state HMAC). */
export function pinValue(pin: Pin): string {
  return values.get(pin)!;
}

/** Checks a PIN's type and length against the token's range without touching the token; the Pin, validated. */
export function checkPin(pin: unknown, range: { min: number; max: number }, what = 'PIN'): Pin {
  const checked = Pin.from(pin as string | Pin, what);
  const length = checked.byteLength;
  // Some modules report 0 or CK_UNAVAILABLE_INFORMATION for an unknown bound.
  const max = range.max > 0 && range.max < 0xffff ? range.max : Infinity;
  if (length < range.min || length > max || length === 0) {
    throw new PinLengthError(`${what} must be ${range.min}–${max === Infinity ? 'any' : max} bytes long`);
  }
  return checked;
}
