/**
 * Builds one app's image from the root Dockerfile. Run with Node 24 (`npx nx image <app>` runs it
 * after `nx build <app>`):
 *
 *   node scripts/image.ts <app> [--tag REF] [--base REF | --standin] [--context DIR] [--layers] [--json]
 *
 * - Docker when `docker info` answers, buildah (`buildah bud --isolation chroot --layers`) otherwise;
 * - `--base REF` passes `--build-arg NODE_IMAGE=REF`; `--standin` builds (or reuses) the local
 *   stand-in base of scripts/standin-base.ts and passes that (for machines that cannot pull);
 * - `--context DIR`: a build context other than the repository root (it must hold
 *   apps/<app>/dist; the Dockerfile and .dockerignore are read from the repository);
 * - `--layers` (buildah): also measures every layer (its tar, and that tar gzipped at level 6) and
 *   which of them the app adds on top of its base;
 * - prints the image reference and its size; `--json` prints one JSON object instead.
 */
import { spawn } from 'node:child_process';
import { createReadStream, existsSync } from 'node:fs';
import { mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { standinBase } from './standin-base.ts';

const REPO_ROOT = path.resolve(import.meta.dirname, '..');
export const APPS = ['producer', 'worker-job', 'worker-deployment', 'exporter'] as const;
export type App = (typeof APPS)[number];

export class ImageBuildError extends Error {
  readonly code = 'IMAGE_BUILD_FAILED';
  readonly retryable = false;
}

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], options: { cwd?: string; echo?: boolean; timeoutMs?: number } = {}): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'], timeout: options.timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (options.echo) process.stderr.write(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (options.echo) process.stderr.write(d);
    });
    child.on('error', (error) => resolve({ code: null, stdout, stderr: stderr + error.message }));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function mustRun(command: string, args: string[], options: { cwd?: string; echo?: boolean } = {}): Promise<string> {
  const ran = await run(command, args, options);
  if (ran.code !== 0)
    throw new ImageBuildError(
      `${command} ${args.slice(0, 3).join(' ')}… exited ${ran.code}: ${(ran.stderr || ran.stdout).trim().split('\n').slice(-6).join(' | ')}`,
    );
  return ran.stdout;
}

/** `docker` when a daemon answers, else `buildah` when installed, else undefined. */
export async function pickBuilder(): Promise<'docker' | 'buildah' | undefined> {
  if ((await run('docker', ['info', '--format', '{{.ServerVersion}}'], { timeoutMs: 10_000 })).code === 0) return 'docker';
  if ((await run('buildah', ['--version'])).code === 0) return 'buildah';
  return undefined;
}

export interface LayerFigure {
  /** uncompressed digest (the image config's diff_id) */
  diffId: string;
  /** the Dockerfile step that made it, from the image history */
  createdBy: string;
  /** size of the layer tar */
  bytes: number;
  /** size of the layer tar gzipped at level 6 (about what a registry stores and a node pulls); base layers: as buildah push stored them */
  gzipBytes: number;
  /** true when the layer is the app's, false when it comes from the base image */
  own: boolean;
}

export interface BuiltImage {
  app: App;
  ref: string;
  builder: 'docker' | 'buildah';
  base: string;
  /** bytes, uncompressed (sum of the layer tars) */
  size: number;
  layers?: LayerFigure[];
}

/**
 * Size of a layer tar and of its gzip at level 6, whether the blob is stored compressed or not. With
 * `regzip` false a gzipped blob counts as stored (the base's layers: measured once, not the subject).
 */
async function measureBlob(file: string, regzip: boolean): Promise<{ bytes: number; gzipBytes: number }> {
  const head = Buffer.alloc(2);
  const handle = await open(file);
  await handle.read(head, 0, 2, 0);
  await handle.close();
  const gzipped = head[0] === 0x1f && head[1] === 0x8b;
  if (gzipped && !regzip) {
    let bytes = 0;
    await pipeline(
      createReadStream(file),
      createGunzip(),
      new Transform({ transform: (chunk: Buffer, _e, done) => done(null, void (bytes += chunk.length)) }),
    );
    return { bytes, gzipBytes: (await stat(file)).size };
  }
  let bytes = 0;
  let gzipBytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  const gzip = createGzip({ level: 6 });
  gzip.on('data', (d: Buffer) => (gzipBytes += d.length));
  if (gzipped) await pipeline(createReadStream(file), createGunzip(), counter, gzip);
  else await pipeline(createReadStream(file), counter, gzip);
  return { bytes, gzipBytes };
}

interface OciConfig {
  rootfs: { diff_ids: string[] };
  history?: { created_by?: string; empty_layer?: boolean }[];
}

async function diffIds(ref: string): Promise<string[]> {
  const inspected = JSON.parse(await mustRun('buildah', ['inspect', '--type', 'image', ref])) as { OCIv1: OciConfig };
  return inspected.OCIv1.rootfs.diff_ids;
}

/** Every layer of a buildah image, measured from an uncompressed OCI copy; `own` = not in `baseRef`. */
export async function layerFigures(ref: string, baseRef: string): Promise<LayerFigure[]> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'surge-image-layers-'));
  try {
    await mustRun('buildah', ['push', '--quiet', ref, `oci:${dir}:image`]);
    const blob = (digest: string) => path.join(dir, 'blobs', ...digest.split(':'));
    const index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    const manifest = JSON.parse(await readFile(blob(index.manifests[0]!.digest), 'utf8')) as {
      config: { digest: string };
      layers: { digest: string; size: number }[];
    };
    const config = JSON.parse(await readFile(blob(manifest.config.digest), 'utf8')) as OciConfig;
    const base = new Set(await diffIds(baseRef));
    const steps = (config.history ?? []).filter((h) => !h.empty_layer).map((h) => h.created_by ?? '');
    const figures: LayerFigure[] = [];
    for (const [i, layer] of manifest.layers.entries()) {
      const diffId = config.rootfs.diff_ids[i]!;
      const own = !base.has(diffId);
      figures.push({
        diffId,
        createdBy: own ? (steps[i] ?? '').replace(/^\/bin\/sh -c #\(nop\) /, '').trim() : `(base ${baseRef})`,
        ...(await measureBlob(blob(layer.digest), own)),
        own,
      });
    }
    return figures;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface BuildOptions {
  app: App;
  tag?: string;
  base?: string;
  standin?: boolean;
  context?: string;
  layers?: boolean;
  /** print the builder's output to stderr (the CLI does) */
  echo?: boolean;
}

export const DEFAULT_BASE = 'node:24.21.0-bookworm-slim';

export async function buildImage(options: BuildOptions): Promise<BuiltImage> {
  const context = path.resolve(options.context ?? REPO_ROOT);
  const dist = path.join(context, 'apps', options.app, 'dist');
  if (!existsSync(path.join(dist, 'main.js')) || !existsSync(path.join(dist, 'package.json')))
    throw new ImageBuildError(
      `${dist}/main.js is missing: run \`npx nx build ${options.app}\` first (or \`npx nx image ${options.app}\`, which builds)`,
    );
  const builder = await pickBuilder();
  if (!builder)
    throw new ImageBuildError(
      'neither a Docker daemon (`docker info`) nor buildah is available: install Docker or `apt-get install buildah`',
    );
  const base = options.standin ? (await standinBase()).ref : options.base;
  const ref = options.tag ?? `surge/${options.app}:dev`;
  const buildArgs = ['--build-arg', `APP=${options.app}`, ...(base ? ['--build-arg', `NODE_IMAGE=${base}`] : [])];
  const dockerfile = path.join(REPO_ROOT, 'Dockerfile');
  if (builder === 'docker') {
    await mustRun('docker', ['build', ...buildArgs, '-f', dockerfile, '-t', ref, context], { echo: options.echo });
    const size = Number((await mustRun('docker', ['image', 'inspect', '--format', '{{.Size}}', ref])).trim());
    return { app: options.app, ref, builder, base: base ?? DEFAULT_BASE, size };
  }
  // buildah reads .dockerignore from the context folder only
  if (context !== REPO_ROOT && !existsSync(path.join(context, '.dockerignore')))
    throw new ImageBuildError(`${context}/.dockerignore is missing: copy the repository's .dockerignore into the context`);
  const built = await run(
    'buildah',
    ['bud', '--isolation', 'chroot', '--layers', '--force-rm', ...buildArgs, '-f', dockerfile, '-t', ref, context],
    { echo: options.echo },
  );
  if (built.code !== 0) {
    const pull = /(pinging container registry|initializing source|manifest unknown|no such host|dial tcp)/i.test(built.stderr) && !base;
    throw new ImageBuildError(
      `buildah bud exited ${built.code}: ${built.stderr.trim().split('\n').slice(-4).join(' | ')}${pull ? ` — cannot pull ${DEFAULT_BASE}; on a machine without registry access add --standin` : ''}`,
    );
  }
  const resolvedBase = base ?? DEFAULT_BASE;
  const layers = options.layers ? await layerFigures(ref, resolvedBase) : undefined;
  const size = layers ? layers.reduce((sum, l) => sum + l.bytes, 0) : await buildahImageSize(ref);
  return { app: options.app, ref, builder, base: resolvedBase, size, ...(layers ? { layers } : {}) };
}

async function buildahImageSize(ref: string): Promise<number> {
  // `buildah images` shows sizes rounded for people; the sum of the layer sizes is exact
  const listed = JSON.parse(await mustRun('buildah', ['images', '--json', ref])) as { size: string }[];
  const match = /^([\d.]+)\s*([kMG]?B)$/.exec(listed[0]?.size ?? '');
  const unit = { B: 1, kB: 1e3, MB: 1e6, GB: 1e9 }[match?.[2] ?? 'B'] ?? 1;
  return Math.round(Number(match?.[1] ?? 0) * unit);
}

export const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      tag: { type: 'string' },
      base: { type: 'string' },
      standin: { type: 'boolean', default: false },
      context: { type: 'string' },
      layers: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  const app = positionals[0];
  try {
    if (!APPS.includes(app as App)) throw new ImageBuildError(`app: expected one of ${APPS.join(', ')}, got ${JSON.stringify(app ?? '')}`);
    if (values.standin && values.base) throw new ImageBuildError('--standin and --base: give one of them');
    const image = await buildImage({
      app: app as App,
      tag: values.tag,
      base: values.base,
      standin: values.standin,
      context: values.context,
      layers: values.layers,
      echo: !values.json,
    });
    if (values.json) console.log(JSON.stringify(image));
    else {
      console.log(`image: ${image.ref} (${mb(image.size)}, ${image.builder}, base ${image.base})`);
      for (const l of image.layers ?? [])
        console.log(
          `  ${l.own ? 'app ' : 'base'} ${mb(l.bytes).padStart(9)} ${mb(l.gzipBytes).padStart(9)} gz  ${l.createdBy.slice(0, 90)}`,
        );
    }
  } catch (error) {
    console.error(`image: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}
