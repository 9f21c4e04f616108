// The verifier client's address check: something that is not an http:// or https:// URL is a typed
// error naming the fix at construction, not "cannot be reached" at the first request.
import { describe, expect, it } from 'vitest';
import { VerifierClient } from '../src/client/verifier-client.js';

describe('VerifierClient base URL', () => {
  it('refuses an address without http:// or https://, suggesting the URL', () => {
    for (const [address, suggested] of [
      ['127.0.0.1:8787', 'http://127.0.0.1:8787'],
      ['localhost:8787', 'http://localhost:8787'],
      ['ftp://verifier.example', 'http://127.0.0.1:8787'],
    ] as const) {
      let caught: unknown;
      try {
        new VerifierClient(address);
      } catch (err) {
        caught = err;
      }
      expect(caught).toMatchObject({ code: 'ERR_INVALID_VERIFIER_URL' });
      expect((caught as Error).message).toContain('http:// or https://');
      expect((caught as Error).message).toContain(`e.g. ${suggested}`);
    }
  });

  it('never echoes an address that might hold a password', () => {
    expect(() => new VerifierClient('ops:s3cret-pass@verifier.example:8787')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_VERIFIER_URL', message: expect.not.stringContaining('s3cret') }));
  });

  it('accepts http and https URLs, with or without a trailing slash', () => {
    for (const url of ['http://127.0.0.1:8787', 'http://127.0.0.1:8787/', 'https://verifier.example']) expect(() => new VerifierClient(url)).not.toThrow();
  });
});
