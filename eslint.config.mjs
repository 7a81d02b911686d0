// One flat config for the workspace. Module boundaries are enforced on two axes of Nx tags
// (type:* and scope:*); vendor SDKs are confined to the file trees of their adapter or sink.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import nx from '@nx/eslint-plugin';

const vendorSdks = ['@azure/service-bus', '@azure/storage-blob', '@azure/identity', 'amqplib', 'rhea'];

/** Tag constraints; test files may additionally import `type:testing` libs. */
function boundaries({ tests }) {
  const testing = tests ? ['type:testing'] : [];
  return {
    enforceBuildableLibDependency: false,
    allow: [],
    depConstraints: [
      // contracts are the shared language: they depend on nothing of ours
      {
        sourceTag: 'type:contracts',
        onlyDependOnLibsWithTags: [...testing],
        bannedExternalImports: [...vendorSdks, 'fastify', 'pino', 'prom-client'],
      },
      { sourceTag: 'type:util', onlyDependOnLibsWithTags: ['type:util', ...testing], bannedExternalImports: [...vendorSdks, 'fastify'] },
      {
        sourceTag: 'type:adapter',
        onlyDependOnLibsWithTags: ['type:contracts', 'type:util', ...testing],
        bannedExternalImports: ['fastify'],
      },
      {
        sourceTag: 'type:feature',
        onlyDependOnLibsWithTags: ['type:contracts', 'type:util', 'type:adapter', 'type:feature', ...testing],
        bannedExternalImports: [...vendorSdks, 'fastify'],
      },
      {
        sourceTag: 'type:testing',
        onlyDependOnLibsWithTags: ['type:contracts', 'type:util', 'type:adapter', 'type:feature', 'type:testing'],
        bannedExternalImports: ['fastify'],
      },
      // apps never import apps; they wire libs together
      {
        sourceTag: 'type:app',
        onlyDependOnLibsWithTags: ['type:contracts', 'type:util', 'type:adapter', 'type:feature', ...testing],
        bannedExternalImports: vendorSdks,
      },
      { sourceTag: 'type:deploy', onlyDependOnLibsWithTags: ['type:util', 'type:contracts', ...testing] },
      { sourceTag: 'type:e2e', onlyDependOnLibsWithTags: ['type:contracts', 'type:util', 'type:adapter', 'type:feature', 'type:testing'] },
      {
        sourceTag: 'type:bench',
        onlyDependOnLibsWithTags: ['type:contracts', 'type:util', 'type:adapter', 'type:feature', 'type:testing'],
      },
      // Ownership: a lib owned by one deliverable is imported only by it; shared libs import only shared libs.
      // bench/ and e2e/ drive the whole system and carry no scope.
      { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
      { sourceTag: 'scope:producer', onlyDependOnLibsWithTags: ['scope:shared', 'scope:producer'] },
      { sourceTag: 'scope:exporter', onlyDependOnLibsWithTags: ['scope:shared', 'scope:exporter'] },
      { sourceTag: 'scope:workers', onlyDependOnLibsWithTags: ['scope:shared', 'scope:workers'] },
      { sourceTag: 'scope:worker-job', onlyDependOnLibsWithTags: ['scope:shared', 'scope:workers'] },
      { sourceTag: 'scope:worker-deployment', onlyDependOnLibsWithTags: ['scope:shared', 'scope:workers'] },
      { sourceTag: 'scope:keda-local', onlyDependOnLibsWithTags: ['scope:shared', 'scope:keda-local'] },
    ],
  };
}

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/.surge/**', '**/coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.mjs'],
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@nx/enforce-module-boundaries': ['error', boundaries({ tests: false })],
    },
  },
  // Tests of any project may use the test harness (real services, the contract suite).
  {
    files: ['**/*.test.ts', '**/test/**/*.ts'],
    rules: { '@nx/enforce-module-boundaries': ['error', boundaries({ tests: true })] },
  },
  // Vendor SDKs: only inside their own adapter or sink folder (and the test harness that runs their peers).
  {
    files: ['**/*.ts'],
    ignores: [
      'libs/queue-adapters/src/rabbitmq/**',
      'libs/queue-adapters/src/servicebus/**',
      'libs/results/src/blob/**',
      'libs/testing/**',
      'bench/**',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: vendorSdks.map((name) => ({ name, message: `${name} is imported only inside its adapter or sink` })) },
      ],
    },
  },
  // One typed configuration module per app is the only reader of process.env (the producer's CLI is a
  // second entry point with its own). Libs take an environment map from them; tests pass env to children.
  {
    files: ['apps/*/src/**/*.ts', 'libs/*/src/**/*.ts'],
    ignores: ['apps/*/src/config.ts', 'apps/producer/src/cli/config.ts', '**/*.test.ts', 'libs/testing/**'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: "read process.env only in the app's config.ts" },
      ],
    },
  },
);
