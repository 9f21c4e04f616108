import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One process per test file: each gets its own SoftHSM configuration and fresh tokens,
    // and PKCS#11 module state never leaks between files.
    pool: 'forks',
    isolate: true,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    setupFiles: ['reflect-metadata', './test/helpers/state-dir-setup.ts'],
  },
});
