import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, checkDockerfile } from '../src/index.ts';

const APPS = ['producer', 'worker-job', 'worker-deployment', 'exporter'];

describe.each(APPS)('apps/%s/Dockerfile', (app) => {
  it('is multi-stage, pinned, non-root, exec-form node, installing production dependencies from dist/', async () => {
    const text = await readFile(path.join(REPO_ROOT, 'apps', app, 'Dockerfile'), 'utf8');
    expect(checkDockerfile(text)).toEqual([]);
    expect(text).toMatch(/^COPY dist\/package\.json/m);
    expect(text).toMatch(/npm install --omit=dev/);
    expect(text).toMatch(/^WORKDIR \/app$/m);
    expect(text).toMatch(/@sha256:[a-f0-9]{64}/);
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
    expect(checkDockerfile(good.replace('CMD ["node", "main.js"]', 'CMD node main.js'))).toEqual([expect.stringContaining('not exec form')]);
    expect(checkDockerfile(good.replace('CMD ["node", "main.js"]', 'CMD ["npm", "start"]'))).toEqual([expect.stringContaining('not node')]);
    expect(checkDockerfile('FROM node:24.21.0-slim\nUSER 1000\nCMD ["node","x"]\n')).toEqual([expect.stringContaining('multi-stage')]);
  });

  it('resolves ARG base images, joins continuation lines and ignores comments', () => {
    const text = 'ARG BASE=node:24.21.0-slim@sha256:' + 'a'.repeat(64) + '\nFROM ${BASE} AS deps\n# comment\nRUN a \\\n  && b\nFROM deps AS final\nUSER node\nCMD ["node", \\\n "main.js"]\n';
    expect(checkDockerfile(text)).toEqual([]);
  });
});
