// The root Dockerfile, statically: what the real build in e2e/test/images.test.ts cannot show,
// because that build runs on the local stand-in base (no registry here) — the default base's pin —
// plus the per-app choices a build arg makes, against the base manifests.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  KUSTOMIZE_ROOT,
  REPO_ROOT,
  checkDockerfile,
  exposedPorts,
  podTemplateOf,
  renderKustomization,
  type K8sObject,
} from '../src/index.ts';

const APPS = ['producer', 'worker-job', 'worker-deployment', 'exporter'];
let dockerfile = '';
let base: K8sObject[] = [];

beforeAll(async () => {
  dockerfile = await readFile(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
  base = await renderKustomization(path.join(KUSTOMIZE_ROOT, 'base'));
});

describe('Dockerfile (repository root)', () => {
  it('pins the default base once, by version and digest, and lets a build arg replace it', () => {
    const pins = dockerfile.match(/@sha256:[a-f0-9]{64}/g) ?? [];
    expect(pins).toHaveLength(1);
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:\d+\.\d+\.\d+-bookworm-slim@sha256:[a-f0-9]{64}$/m);
    expect(dockerfile.match(/^FROM \$\{NODE_IMAGE\}/gm)).toHaveLength(2);
    expect(dockerfile).not.toMatch(/^FROM (?!\$\{)\S+:\S+/m); // no other image named anywhere
  });

  it("installs production dependencies only, from the bundle's package.json, without install scripts", () => {
    expect(dockerfile).toMatch(/^COPY apps\/\$\{APP\}\/dist\/package\.json \.\/$/m);
    expect(dockerfile).toMatch(/npm install --omit=dev --ignore-scripts/);
    expect(dockerfile).toMatch(/^COPY --from=deps \/app\/node_modules \.\/node_modules$/m);
    expect(dockerfile).toMatch(/^WORKDIR \/app$/m);
  });

  it('refuses an APP it has no stage for, naming the build arg', () => {
    const accepted = /case "\$APP" in ([\w|-]+)\)/.exec(dockerfile)?.[1]?.split('|');
    expect(accepted?.sort()).toEqual([...APPS].sort());
    expect(dockerfile).toMatch(/build arg APP: expected/);
  });

  it.each(APPS)("with APP=%s: multi-stage, pinned, numeric non-root user, exec-form node, EXPOSE = the manifest's port", (app) => {
    expect(checkDockerfile(dockerfile, { buildArgs: { APP: app } })).toEqual([]);
    const workload = base.find((o) => o.metadata.name === app && podTemplateOf(o));
    const container = podTemplateOf(workload!)!.spec.containers.find((c) => c.name === app) as
      { ports?: { containerPort: number }[] } | undefined;
    expect(exposedPorts(dockerfile, { APP: app })).toEqual((container?.ports ?? []).map((p) => String(p.containerPort)));
  });

  it('is the only image definition: no per-app Dockerfile, and the context is only apps/*/dist', async () => {
    for (const app of APPS) expect(existsSync(path.join(REPO_ROOT, 'apps', app, 'Dockerfile')), app).toBe(false);
    const ignore = (await readFile(path.join(REPO_ROOT, '.dockerignore'), 'utf8'))
      .split('\n')
      .filter((l) => l.trim() && !l.startsWith('#'));
    expect(ignore).toEqual(['*', '!apps/*/dist']);
  });
});

describe('checkDockerfile', () => {
  const good = 'FROM node:24.21.0-slim AS deps\nRUN true\nFROM node:24.21.0-slim\nUSER 1000\nCMD ["node", "main.js"]\n';

  it('accepts a good file and finds each problem in bad ones', () => {
    expect(checkDockerfile(good)).toEqual([]);
    expect(checkDockerfile(good.replace(/node:24\.21\.0-slim/g, 'node:24-slim'))).toEqual([
      expect.stringContaining('not pinned'),
      expect.stringContaining('not pinned'),
    ]);
    expect(checkDockerfile(good.replace('USER 1000\n', ''))).toEqual([expect.stringContaining('no USER')]);
    expect(checkDockerfile(good.replace('USER 1000', 'USER root'))).toEqual([expect.stringContaining('runs as root')]);
    expect(checkDockerfile(good.replace('USER 1000', 'USER node'))).toEqual([expect.stringContaining('not numeric')]);
    expect(checkDockerfile(good.replace('CMD ["node", "main.js"]', 'CMD node main.js'))).toEqual([
      expect.stringContaining('not exec form'),
    ]);
    expect(checkDockerfile(good.replace('CMD ["node", "main.js"]', 'CMD ["npm", "start"]'))).toEqual([expect.stringContaining('not node')]);
    expect(checkDockerfile('FROM node:24.21.0-slim\nUSER 1000\nCMD ["node","x"]\n')).toEqual([expect.stringContaining('multi-stage')]);
  });

  it('resolves ARG base images, joins continuation lines and ignores comments', () => {
    const text =
      'ARG BASE=node:24.21.0-slim@sha256:' +
      'a'.repeat(64) +
      '\nFROM ${BASE} AS deps\n# comment\nRUN a \\\n  && b\nFROM deps AS final\nUSER 1000\nCMD ["node", \\\n "main.js"]\n';
    expect(checkDockerfile(text)).toEqual([]);
  });

  it('follows the stage a build arg selects through its FROM chain', () => {
    const text =
      'ARG APP=a\nFROM node:24.21.0-slim AS deps\nFROM node:24.21.0-slim AS runtime\nUSER 1000\nCMD ["node", "main.js"]\nFROM runtime AS a\nEXPOSE 8080\nFROM runtime AS b\nUSER root\nFROM ${APP}\n';
    expect(checkDockerfile(text)).toEqual([]);
    expect(checkDockerfile(text, { buildArgs: { APP: 'b' } })).toEqual([expect.stringContaining('runs as root')]);
    expect(checkDockerfile(text, { buildArgs: { APP: 'nope' } })).toEqual([
      expect.stringContaining('base image nope is not pinned'),
      expect.stringContaining('no USER'),
      expect.stringContaining('no CMD'),
    ]);
    expect(exposedPorts(text)).toEqual(['8080']);
    expect(exposedPorts(text, { APP: 'b' })).toEqual([]);
  });
});
