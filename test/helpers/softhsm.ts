// Per-file SoftHSM set-up for tests: fresh tokens in a temp directory, removed afterwards.
import { afterAll, beforeAll } from 'vitest';
import { createSoftHsm, type SoftHsmFixture, type SoftHsmOptions } from '../../native-fixtures/softhsm/softhsm.js';

/** Creates the fixture before the file's tests and removes it after; read `.current` inside tests. */
export function useSoftHsm(options: SoftHsmOptions = {}): { readonly current: SoftHsmFixture } {
  const holder: { current: SoftHsmFixture | undefined } = { current: undefined };
  beforeAll(async () => {
    holder.current = await createSoftHsm(options);
  });
  afterAll(() => holder.current?.cleanup());
  return {
    get current(): SoftHsmFixture {
      if (!holder.current) throw new Error('SoftHSM fixture not ready');
      return holder.current;
    },
  };
}
