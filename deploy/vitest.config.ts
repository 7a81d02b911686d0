import { defineConfig } from 'vitest/config';
// kubectl kustomize runs a few dozen times; the build-app test bundles a fixture with esbuild
export default defineConfig({ test: { include: ['test/**/*.test.ts'], testTimeout: 60_000, hookTimeout: 120_000 } });
