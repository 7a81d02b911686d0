import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // The process tests start every app (and build and npm-install four of them): one file at a time
    // keeps a 2-core machine responsive and their budgets meaningful.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 240_000,
  },
});
