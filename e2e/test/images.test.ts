/**
 * Image-contents smoke test per app, without a Docker engine: build the app with its own build
 * script (into a build context outside the repository), follow its Dockerfile step by step in an
 * empty temp folder (COPY dist/package.json, `npm install --omit=dev …` for real, COPY the
 * node_modules and dist/, ENV), then start it with the image's command and a pod's environment.
 * HTTP apps must answer `/livez` 200 and exit 0 on SIGTERM; worker-job must exit 0 on an empty queue.
 * What npm installed is printed, and packages the app has no use for fail the test.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMAGE_APPS, REPO_ROOT, appDir, assembleImage, runNpm, startApp, tempDir, uniqueQueueName, type AssembledImage, type ImageApp } from '../src/index.ts';

/** Never in an image: build and test tooling, and workspace packages (they are bundled into main.js). */
const NEVER = [/^@surge\//, /^(typescript|vitest|esbuild|nx|eslint|@nx\/.*|@eslint\/.*|typescript-eslint|testcontainers|@testcontainers\/.*|azurite|node)$/, /^@fastify\/type-provider-typebox$/];
/** Packages an app has no code path for. */
const NOT_FOR: Record<ImageApp, RegExp[]> = {
  'worker-job': [/^fastify$/, /^@fastify\//],
  'worker-deployment': [/^fastify$/, /^@fastify\//],
  producer: [/^@azure\/storage-blob$/],
  exporter: [/^@azure\/storage-blob$/, /^typebox$/],
};

const work = tempDir('surge-e2e-images-');
const images = new Map<ImageApp, { image: AssembledImage; installed: Map<string, string>; declared: Record<string, string> }>();
const failures = new Map<ImageApp, Error>();

/** Top-level packages in node_modules (scoped ones included) with their versions. */
async function installedPackages(nodeModules: string): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const read = async (dir: string, prefix: string) => {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
      if (entry.name.startsWith('@') && prefix === '') {
        await read(path.join(dir, entry.name), `${entry.name}/`);
        continue;
      }
      const manifest = path.join(dir, entry.name, 'package.json');
      if (existsSync(manifest)) found.set(prefix + entry.name, (JSON.parse(await readFile(manifest, 'utf8')) as { version: string }).version);
    }
  };
  await read(nodeModules, '');
  return found;
}

/** The app's own build script (what `nx build` runs), writing into a build context outside the repo. */
async function build(app: ImageApp): Promise<string> {
  const context = path.join(work.dir, app, 'context');
  await mkdir(context, { recursive: true });
  await runNpm(['run', 'build', '-w', `apps/${app}`, '--', '--outdir', path.join(context, 'dist')], REPO_ROOT);
  await copyFile(path.join(appDir(app), 'Dockerfile'), path.join(context, 'Dockerfile'));
  return context;
}

async function assemble(app: ImageApp, context: string): Promise<void> {
  const image = await assembleImage({
    dockerfile: await readFile(path.join(context, 'Dockerfile'), 'utf8'),
    context,
    root: path.join(work.dir, app, 'image'),
    runNpm: (args, cwd) => runNpm(args, cwd),
    // Same install, allowed to use npm's cache first; the cache clean only shrinks a layer and would
    // empty this machine's shared cache.
    adjustNpm: (args) => (args[0] === 'cache' ? undefined : args[0] === 'install' ? [...args, '--prefer-offline'] : args),
  });
  const declared = (JSON.parse(await readFile(path.join(context, 'dist', 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }).dependencies ?? {};
  images.set(app, { image, installed: await installedPackages(path.join(image.workdir, 'node_modules')), declared });
}

beforeAll(async () => {
  // Builds one after another (CPU bound, two cores); each app's install starts as soon as its build
  // is done and runs alongside the next builds (network and disk bound).
  let builds: Promise<unknown> = Promise.resolve();
  const installs: Promise<void>[] = [];
  for (const app of IMAGE_APPS) {
    const built = builds.then(() => build(app));
    builds = built.catch(() => {});
    installs.push(built.then((context) => assemble(app, context)).catch((error: unknown) => void failures.set(app, error as Error)));
  }
  await Promise.all(installs);
}, 240_000);

afterAll(() => work.remove());

/** The env a pod would have (base manifest + configmaps), on an embedded queue in a temp folder. */
function podEnv(app: ImageApp): Record<string, string> {
  return {
    QUEUE_KIND: 'embedded',
    QUEUE_NAME: uniqueQueueName(`image-${app}`),
    EMBEDDED_QUEUE_DIR: path.join(work.dir, 'queue'),
    RESULTS_KIND: 'local',
    RESULTS_DIR: path.join(work.dir, 'results'),
    WORKER_INSTANCE: `${app}-pod`,
    PRODUCER_TOKEN: randomBytes(16).toString('hex'),
    RECEIVE_WAIT_MS: '1000',
    LOG_LEVEL: 'info',
  };
}

describe.each(IMAGE_APPS)('%s image contents', (app) => {
  const assembled = () => {
    const failure = failures.get(app);
    if (failure) throw failure;
    return images.get(app)!;
  };

  it('follows the Dockerfile: npm installs exactly the bundle\'s dependencies, and nothing the app should not have', () => {
    const { image, installed, declared } = assembled();
    console.log(`${app}: ${image.steps.join(' | ')}`);
    console.log(`${app}: dist/package.json dependencies: ${Object.entries(declared).map(([n, v]) => `${n}@${v}`).join(', ')}`);
    console.log(`${app}: node_modules holds ${installed.size} packages: ${[...installed.keys()].sort().join(' ')}`);
    expect(image.steps.some((s) => /^RUN npm install .*--omit=dev/.test(s))).toBe(true);
    expect(Object.keys(declared).length).toBeGreaterThan(0);
    for (const [name, version] of Object.entries(declared)) expect(installed.get(name), name).toBe(version);
    const unwanted = [...installed.keys()].filter((name) => [...NEVER, ...NOT_FOR[app]].some((pattern) => pattern.test(name)));
    expect(unwanted).toEqual([]);
    if (app === 'worker-job' && installed.has('prom-client')) console.log('worker-job: note: prom-client is installed although worker-job serves no metrics (imported through @surge/telemetry)');
    // Nothing above the image folder can lend it packages: it resolves only its own node_modules.
    for (let dir = path.dirname(image.workdir); dir !== path.dirname(dir); dir = path.dirname(dir)) expect(existsSync(path.join(dir, 'node_modules')), dir).toBe(false);
  });

  it('starts with the image\'s command and a pod\'s environment', async () => {
    const { image } = assembled();
    // exec form, node first: the image's PID 1 is node itself
    expect(image.argv[0]).toBe('node');
    expect(image.argv).toHaveLength(2);
    const script = image.argv[1]!;
    expect(existsSync(path.join(image.workdir, script))).toBe(true);
    const env = { ...podEnv(app), ...image.env };
    if (app === 'worker-job') {
      const job = await startApp({ app, cwd: image.workdir, script, env, http: false });
      const timer = setTimeout(() => job.process.kill('SIGKILL'), 20_000);
      try {
        expect(await job.process.exited, job.process.stderr()).toEqual({ code: 0, signal: null });
      } finally {
        clearTimeout(timer);
      }
      expect(job.process.logs).toContainEqual(expect.objectContaining({ msg: 'worker-job finished' }));
      return;
    }
    const running = await startApp({ app, cwd: image.workdir, script, env });
    try {
      const livez = await fetch(`${running.url}/livez`);
      expect(livez.status).toBe(200);
      const metrics = await fetch(`${running.url}/metrics`);
      expect(metrics.status).toBe(200);
    } finally {
      // SIGTERM reaches node directly (exec form): a clean stop exits 0
      expect(await running.stop(), running.process.stderr()).toEqual({ code: 0, signal: null });
    }
  });
});
