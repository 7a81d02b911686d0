// Runs scripts/build-app.ts the way every app's `build` script does (`node ../../scripts/build-app.ts`
// from the app folder), on fixture apps, into a temp folder.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../src/index.ts';

const run = promisify(execFile);
const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const script = path.join(REPO_ROOT, 'scripts', 'build-app.ts');
const versionOf = async (name: string) =>
  (JSON.parse(await readFile(path.join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
const buildFixture = (name: string, outdir: string) =>
  run(process.execPath, [path.relative(path.join(fixtures, name), script), '--outdir', outdir], { cwd: path.join(fixtures, name) });

let temp: string;
let dist: string;
let stdout: string;
beforeAll(async () => {
  temp = await mkdtemp(path.join(tmpdir(), 'surge-build-app-'));
  dist = path.join(temp, 'dist');
  ({ stdout } = await buildFixture('app', dist));
});
afterAll(async () => {
  await rm(temp, { recursive: true, force: true });
});

describe('scripts/build-app.ts', () => {
  it('lists exactly the npm packages the bundle imports, statically and dynamically, at their installed versions', async () => {
    const manifest = JSON.parse(await readFile(path.join(dist, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest).toMatchObject({ name: '@surge/fixture-app-image', version: '1.2.3', type: 'module', main: 'main.js' });
    expect(manifest.dependencies).toEqual({ ajv: await versionOf('ajv'), yaml: await versionOf('yaml') });
    expect(stdout).toContain(`yaml@${await versionOf('yaml')}`);
  });

  it('bundles workspace packages, keeps npm packages external and splits the lazy import into a chunk', async () => {
    const main = await readFile(path.join(dist, 'main.js'), 'utf8');
    expect(main).not.toMatch(/from ["']@surge\//);
    expect(main).toContain('CONFIG_INVALID'); // @surge/core's code is inside the bundle
    expect(main).toMatch(/from ["']yaml["']/);
    const chunks = (await readdir(path.join(dist, 'chunks'))).filter((c) => c.endsWith('.js'));
    const chunkText = await Promise.all(chunks.map((c) => readFile(path.join(dist, 'chunks', c), 'utf8')));
    expect(chunkText.some((t) => /import\(["']ajv["']\)|from ["']ajv["']/.test(t))).toBe(true);
  });

  it('runs with only the listed packages installed beside it, as in the image', async () => {
    const { dependencies } = JSON.parse(await readFile(path.join(dist, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    // the image's node_modules holds just what dist/package.json lists: link exactly those
    await mkdir(path.join(dist, 'node_modules'), { recursive: true });
    for (const name of Object.keys(dependencies))
      await symlink(path.join(REPO_ROOT, 'node_modules', name), path.join(dist, 'node_modules', name), 'dir');
    const { stdout: out } = await run(process.execPath, ['main.js'], { cwd: dist });
    expect(JSON.parse(out)).toEqual({
      yaml: 'a: 1',
      helper: 'helped',
      lazy: 'function',
      code: 'CONFIG_INVALID',
      fs: 'function',
      os: 'function',
    });
  });

  it('fails with a clear message when the bundle imports a package that is not installed', async () => {
    const failed = await buildFixture('app-missing-dep', path.join(temp, 'missing')).then(
      () => undefined,
      (error: { code?: number; stderr?: string }) => error,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toContain('surge-no-such-package is imported by the bundle but not installed');
  });
});
