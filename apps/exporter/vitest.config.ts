import { defineConfig } from 'vitest/config';
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Real nginx, Prometheus and RabbitMQ start per file; the machine is shared, so be generous.
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
