/** The real exporter process (`node src/main.ts`) when its port is taken: one line on stderr, exit 2. */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { appDir } from './helpers.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'surge-exporter-port-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('exporter process on a taken port', () => {
  it('says so in one line naming PORT and exits with the configuration code 2', async () => {
    const blocker = createServer();
    const port = await new Promise<number>((resolve) =>
      blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as { port: number }).port)),
    );
    try {
      const child = spawn(process.execPath, ['src/main.ts'], {
        cwd: appDir,
        env: {
          PATH: process.env.PATH ?? '',
          HOST: '127.0.0.1',
          PORT: String(port),
          QUEUE_KIND: 'embedded',
          EMBEDDED_QUEUE_DIR: path.join(dir, 'queue'),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      let stdout = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
      expect(code).toBe(2);
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr).toMatch(new RegExp(`^exporter: exit 2: cannot listen on 127\\.0\\.0\\.1:${port} \\(PORT\\): .*EADDRINUSE`));
      expect(stdout).not.toContain('"level":60');
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});
