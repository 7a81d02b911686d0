import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from './apps.ts';
import { ImageAssemblyError, assembleImage } from './image.ts';

const temp = tempDir('surge-e2e-image-unit-');
afterAll(() => temp.remove());

const DOCKERFILE = `ARG BASE=node:24.21.0-slim
FROM \${BASE} AS deps
WORKDIR /app
COPY dist/package.json ./
RUN npm install --omit=dev \\
    --no-fund && npm cache clean --force
FROM \${BASE}
ENV NODE_ENV=production OTHER="a b"
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY dist/ ./
USER 1000:1000
CMD ["node", "main.js"]
`;

async function context(name: string): Promise<string> {
  const dir = path.join(temp.dir, name, 'context');
  await mkdir(path.join(dir, 'dist'), { recursive: true });
  await writeFile(path.join(dir, 'dist', 'package.json'), '{"dependencies":{"left-pad":"1.3.0"}}');
  await writeFile(path.join(dir, 'dist', 'main.js'), 'console.log(1)');
  return dir;
}

describe('assembleImage', () => {
  it('follows each instruction: copies, runs npm where the Dockerfile does, moves node_modules across stages', async () => {
    const ctx = await context('ok');
    const calls: { args: string[]; cwd: string }[] = [];
    const image = await assembleImage({
      dockerfile: DOCKERFILE,
      context: ctx,
      root: path.join(temp.dir, 'ok', 'image'),
      runNpm: async (args, cwd) => {
        calls.push({ args, cwd });
        // what npm install would leave behind
        await mkdir(path.join(cwd, 'node_modules', 'left-pad'), { recursive: true });
        await writeFile(path.join(cwd, 'node_modules', 'left-pad', 'package.json'), '{"version":"1.3.0"}');
      },
      adjustNpm: (args) => (args[0] === 'cache' ? undefined : args),
    });
    expect(calls).toEqual([{ args: ['install', '--omit=dev', '--no-fund'], cwd: path.join(temp.dir, 'ok', 'image', 'stage-0-deps', 'app') }]);
    expect(image.workdir).toBe(path.join(temp.dir, 'ok', 'image', 'stage-1', 'app'));
    expect(image.env).toEqual({ NODE_ENV: 'production', OTHER: 'a b' });
    expect(image.argv).toEqual(['node', 'main.js']);
    expect(await readFile(path.join(image.workdir, 'main.js'), 'utf8')).toBe('console.log(1)');
    expect(await readFile(path.join(image.workdir, 'node_modules', 'left-pad', 'package.json'), 'utf8')).toContain('1.3.0');
    expect(image.steps).toContain('RUN npm cache clean --force (skipped)');
  });

  it('refuses what it cannot follow without a container', async () => {
    const ctx = await context('bad');
    const run = (dockerfile: string, name: string) => assembleImage({ dockerfile, context: ctx, root: path.join(temp.dir, 'bad', name), runNpm: async () => {} });
    await expect(run('FROM x\nRUN apt-get install -y curl\nCMD ["node","main.js"]', 'a')).rejects.toThrow(ImageAssemblyError);
    await expect(run('FROM x\nHEALTHCHECK CMD true\nCMD ["node","main.js"]', 'b')).rejects.toThrow(/not supported/);
    await expect(run('FROM x\nCMD node main.js', 'c')).rejects.toThrow(/exec form/);
    await expect(run('FROM x\nCOPY --from=nope /a ./', 'd')).rejects.toThrow(/no stage/);
    await expect(run('FROM x\nWORKDIR /app', 'e')).rejects.toThrow(/no CMD/);
  });
});
