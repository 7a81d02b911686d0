/**
 * `npm run bench -- images [--apps producer,worker-job,…] [--base REF]`
 *
 * Image sizes, measured as a node would pull them: per app, the image (sum of its layer tars), and
 * the layers the app adds on top of its base (node_modules, then the bundle) — each as a tar and
 * gzipped (level 6). Target: worker-job's own layers ≤ 20 MB compressed (what 1,000 Spot nodes pull
 * beyond a cached base). Next to them, what the Dockerfile's clean-up of node_modules cut: the same
 * `npm install --omit=dev --ignore-scripts` run on the host, before any file is removed, tarred and
 * gzipped the same way; and the largest packages left in the image.
 *
 * Builds each app's bundle (`npm run build -w apps/<app>`) and image (`scripts/image.ts --layers`,
 * buildah) on the local stand-in base of scripts/standin-base.ts unless `--base` names another.
 * Needs buildah and root, like the e2e images test.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';

const exec = promisify(execFile);
const repoRoot = path.resolve(import.meta.dirname, '..', '..');
const APPS = ['producer', 'worker-job', 'worker-deployment', 'exporter'];
const TARGET_WORKER_JOB_GZIP = 20e6;
const out = (line: string) => process.stdout.write(`${line}\n`);
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

interface Layer {
  createdBy: string;
  bytes: number;
  gzipBytes: number;
  own: boolean;
}
interface Built {
  ref: string;
  size: number;
  base: string;
  layers: Layer[];
}

async function capture(command: string, args: string[], cwd = repoRoot): Promise<string> {
  try {
    return (await exec(command, args, { cwd, maxBuffer: 256 * 1024 * 1024, timeout: 900_000 })).stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`${command} ${args.slice(0, 3).join(' ')}: ${(e.stderr ?? e.message).trim().split('\n').slice(-5).join(' | ')}`);
  }
}

/** Bytes of `tar -c <dir>` and of its gzip -6: the same measure the image layers get. */
async function tarSizes(parent: string, name: string): Promise<{ bytes: number; gzipBytes: number }> {
  const bytes = Number((await capture('sh', ['-c', `tar --numeric-owner -C "$1" -cf - "$2" | wc -c`, 'sh', parent, name])).trim());
  const gzipBytes = Number(
    (await capture('sh', ['-c', `tar --numeric-owner -C "$1" -cf - "$2" | gzip -6 | wc -c`, 'sh', parent, name])).trim(),
  );
  return { bytes, gzipBytes };
}

function duBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true }))
    if (entry.isFile()) total += statSync(path.join(entry.parentPath, entry.name)).size;
  return total;
}

/** The largest top-level packages (scopes grouped) of a node_modules folder. */
function largest(nodeModules: string, count: number): string {
  const sizes = readdirSync(nodeModules, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => ({ name: e.name, bytes: duBytes(path.join(nodeModules, e.name)) }))
    .sort((a, b) => b.bytes - a.bytes);
  return sizes
    .slice(0, count)
    .map((s) => `${s.name} ${mb(s.bytes)}`)
    .join(', ');
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { apps: { type: 'string', default: APPS.join(',') }, base: { type: 'string' } } });
  const apps = values.apps.split(',').filter(Boolean);
  for (const app of apps)
    if (!APPS.includes(app)) throw new Error(`--apps: expected a comma-separated list of ${APPS.join(', ')}, got ${app}`);
  const base = values.base ?? (await capture(process.execPath, ['scripts/standin-base.ts'])).trim();
  out(`images: base ${base}${values.base ? '' : ' (local stand-in, scripts/standin-base.ts)'}; builder buildah; gzip level 6`);
  const work = mkdtempSync(path.join(os.tmpdir(), 'surge-bench-images-'));
  const rows: string[] = [];
  const notes: string[] = [];
  let baseLine = '';
  try {
    const context = path.join(work, 'context');
    await mkdir(context, { recursive: true });
    await copyFile(path.join(repoRoot, '.dockerignore'), path.join(context, '.dockerignore'));
    for (const app of apps) {
      const dist = path.join(context, 'apps', app, 'dist');
      await capture('npm', ['run', 'build', '-w', `apps/${app}`, '--', '--outdir', dist]);
      const image = JSON.parse(
        await capture(process.execPath, [
          'scripts/image.ts',
          app,
          '--context',
          context,
          '--base',
          base,
          '--tag',
          `localhost/surge-bench/${app}:latest`,
          '--layers',
          '--json',
        ]),
      ) as Built;
      const own = image.layers.filter((l) => l.own);
      const modules = own.find((l) => /node_modules/.test(l.createdBy));
      const bundle = own.find((l) => l !== modules);
      const sum = (key: 'bytes' | 'gzipBytes') => own.reduce((s, l) => s + l[key], 0);
      // the same install before the Dockerfile's clean-up, for what it cut
      const raw = path.join(work, `${app}-raw`);
      await mkdir(raw);
      await copyFile(path.join(dist, 'package.json'), path.join(raw, 'package.json'));
      await capture(
        'npm',
        ['install', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--no-package-lock', '--prefer-offline'],
        raw,
      );
      const before = await tarSizes(raw, 'node_modules');
      rows.push(
        `| ${app} | ${mb(image.size)} | ${mb(sum('bytes'))} | ${mb(sum('gzipBytes'))} | ${modules ? `${mb(modules.bytes)} / ${mb(modules.gzipBytes)}` : '—'} | ${bundle ? `${mb(bundle.bytes)} / ${mb(bundle.gzipBytes)}` : '—'} | ${mb(before.bytes)} / ${mb(before.gzipBytes)} |`,
      );
      const container = (await capture('buildah', ['from', '--pull-never', image.ref])).trim();
      try {
        const rootfs = (await capture('buildah', ['mount', container])).trim();
        notes.push(
          `images: ${app}: largest in the image's node_modules: ${largest(path.join(rootfs, 'app', 'node_modules'), 6)}; before the clean-up: ${largest(path.join(raw, 'node_modules'), 6)}`,
        );
      } finally {
        await capture('buildah', ['rm', container]);
      }
      if (app === 'worker-job')
        notes.push(
          `images: worker-job own layers ${mb(sum('gzipBytes'))} compressed; target ≤ ${mb(TARGET_WORKER_JOB_GZIP)}: ${sum('gzipBytes') <= TARGET_WORKER_JOB_GZIP ? 'met' : 'MISSED'}`,
        );
      const baseGzip = image.layers.filter((l) => !l.own).reduce((s, l) => s + l.gzipBytes, 0);
      baseLine = `images: base layers ${mb(image.size - sum('bytes'))} (${mb(baseGzip)} gz, as buildah push stores them), shared by every app`;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  out(
    '| app | image | app layers | app layers gz | node_modules layer (tar / gz) | bundle layer (tar / gz) | node_modules without the clean-up (tar / gz) |',
  );
  out('| --- | --- | --- | --- | --- | --- | --- |');
  for (const row of rows) out(row);
  for (const note of notes) out(note);
  if (baseLine) out(baseLine);
}
