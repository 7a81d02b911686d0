import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureDirectory } from './directory.ts';

const root = mkdtempSync(path.join(tmpdir(), 'surge-core-dir-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('ensureDirectory', () => {
  it('creates every missing part and accepts a folder that exists', async () => {
    const dir = path.join(root, 'a', 'b', 'c');
    await ensureDirectory(dir, { variable: 'SOME_DIR' });
    expect(statSync(dir).isDirectory()).toBe(true);
    await ensureDirectory(dir, { variable: 'SOME_DIR' });
  });

  it.each(['/proc/surge/x', '/proc', '/sys/surge'])('refuses %s with a ConfigError naming the variable, without spinning', async (dir) => {
    await expect(ensureDirectory(dir, { variable: 'SOME_DIR' })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      variable: 'SOME_DIR',
      message: expect.stringContaining('outside /'),
    });
  });

  it('refuses a path that runs through a file', async () => {
    const file = path.join(root, 'file');
    writeFileSync(file, 'x');
    await expect(ensureDirectory(path.join(file, 'below'), { variable: 'SOME_DIR' })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringMatching(/^SOME_DIR: expected a path whose parts are folders/),
    });
    await expect(ensureDirectory(file, { variable: 'SOME_DIR' })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});
