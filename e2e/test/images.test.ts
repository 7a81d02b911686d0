/**
 * Every app's image, built by a real OCI builder and run the way the base manifests run its pod.
 *
 * Build: each app's bundle (`npm run build -w apps/<app> -- --outdir <context>/apps/<app>/dist`, what
 * `nx build` runs) into a build context outside the repository, then the root Dockerfile through
 * `scripts/image.ts` (`buildah bud --isolation chroot --layers`) on the local stand-in base of
 * `scripts/standin-base.ts` (no registry is reachable here). Layers are measured as they would be
 * pulled.
 *
 * Run: the image's own command from its root filesystem as PID 1 in fresh PID, mount and network
 * namespaces, as the image's user, root read-only, only the manifest's `emptyDir` paths writable,
 * with the pod's environment from `kubectl kustomize deploy/kustomize/base` (src/container.ts).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '@surge/core';
import { createQueueClient, type QueueClient } from '@surge/queue-adapters';
import { workMessages } from '@surge/testing';
import {
  IMAGE_APPS,
  REPO_ROOT,
  buildah,
  inspectImage,
  missingForImages,
  mountImage,
  podRun,
  renderBase,
  runContainer,
  tempDir,
  type ImageApp,
  type ImageConfig,
  type PodRun,
  type RunningContainer,
} from '../src/index.ts';

const exec = promisify(execFile);

/** Never in an image: build and test tooling, and workspace packages (they are bundled into main.js). */
const NEVER = [
  /^@surge\//,
  /^(typescript|vitest|esbuild|nx|eslint|@nx\/.*|@eslint\/.*|typescript-eslint|testcontainers|@testcontainers\/.*|azurite|node|npm)$/,
  /^@fastify\/type-provider-typebox$/,
];
/** Packages an app has no code path for. */
const NOT_FOR: Record<ImageApp, RegExp[]> = {
  'worker-job': [/^fastify$/, /^@fastify\//],
  'worker-deployment': [/^fastify$/, /^@fastify\//],
  producer: [/^@azure\/storage-blob$/],
  exporter: [/^@azure\/storage-blob$/, /^typebox$/],
};
/** The part 1,000 Spot nodes pull beyond a cached base (issue 14). */
const WORKER_JOB_OWN_LAYERS_MAX_GZIP = 20e6;

interface Built {
  ref: string;
  size: number;
  base: string;
  layers: { createdBy: string; bytes: number; gzipBytes: number; own: boolean }[];
}

const missing = await missingForImages();
if (missing) console.log(`images: skipped: ${missing}`);

// made in beforeAll, so a skipped run leaves nothing behind
let work: ReturnType<typeof tempDir> = { dir: '', remove: () => {} };
const built = new Map<ImageApp, Built>();
const failures = new Map<ImageApp, Error>();
const cleanups: (() => Promise<void>)[] = [];
let pods: Awaited<ReturnType<typeof renderBase>> = [];
let standin = '';
let leftContainers: string[] = [];
const token = randomBytes(16).toString('hex');

async function node(args: string[], timeoutMs: number): Promise<string> {
  try {
    const { stdout } = await exec(process.execPath, args, { cwd: REPO_ROOT, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`node ${args.slice(0, 2).join(' ')}: ${(e.stderr ?? e.message).trim().split('\n').slice(-6).join(' | ')}`);
  }
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

describe.skipIf(missing !== undefined)('images built by buildah and run like their pods', () => {
  beforeAll(async () => {
    work = tempDir('surge-e2e-images-');
    const context = path.join(work.dir, 'context');
    mkdirSync(context, { recursive: true });
    copyFileSync(path.join(REPO_ROOT, '.dockerignore'), path.join(context, '.dockerignore'));
    pods = await renderBase();
    standin = (await node(['scripts/standin-base.ts'], 600_000)).trim();
    console.log(`images: base ${standin} (scripts/standin-base.ts)`);
    const containersBefore = new Set((await buildah(['containers', '--quiet'])).split('\n').filter(Boolean));
    // One build after another: the machine has two cores, and buildah's layer cache makes repeats cheap.
    for (const app of IMAGE_APPS) {
      try {
        await exec('npm', ['run', 'build', '-w', `apps/${app}`, '--', '--outdir', path.join(context, 'apps', app, 'dist')], {
          cwd: REPO_ROOT,
          timeout: 120_000,
        });
        const image = JSON.parse(
          await node(
            [
              'scripts/image.ts',
              app,
              '--context',
              context,
              '--base',
              standin,
              '--tag',
              `localhost/surge-e2e/${app}:test`,
              '--layers',
              '--json',
            ],
            600_000,
          ),
        ) as Built;
        built.set(app, image);
        const own = image.layers.filter((l) => l.own);
        console.log(
          `images: ${app}: ${image.ref} ${mb(image.size)}; app layers ${own.map((l) => `${mb(l.bytes)} (${mb(l.gzipBytes)} gz) ${l.createdBy.replace(/^COPY (dir|file):[0-9a-f]+ /, 'COPY ')}`).join(' + ')}`,
        );
      } catch (error) {
        failures.set(app, error as Error);
      }
    }
    leftContainers = (await buildah(['containers', '--quiet'])).split('\n').filter((id) => id && !containersBefore.has(id));
  }, 1_500_000);

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    work.remove();
  });

  describe.each(IMAGE_APPS)('%s', (app) => {
    const image = (): Built => {
      const failure = failures.get(app);
      if (failure) throw failure;
      return built.get(app)!;
    };
    let config: ImageConfig;
    let rootfs = '';
    let pod: PodRun;

    beforeAll(async () => {
      if (!built.has(app)) return;
      config = await inspectImage(image().ref);
      const mounted = await mountImage(image().ref, `surge-e2e-${app}`);
      cleanups.push(mounted.remove);
      rootfs = mounted.rootfs;
      pod = podRun(pods, app, { 'surge-producer/token': token });
    });

    /** Host folders for the pod's emptyDir paths, owned by the pod's user as fsGroup would make them. */
    function volumes(run: string): Record<string, string> {
      const writable: Record<string, string> = {};
      for (const inside of pod.writablePaths) {
        const host = path.join(work.dir, `${app}-${run}`, inside.replaceAll('/', '_'));
        mkdirSync(host, { recursive: true });
        chownSync(host, pod.runAsUser ?? 0, pod.runAsGroup ?? 0);
        writable[inside] = host;
      }
      return writable;
    }

    function hostPath(writable: Record<string, string>, inside: string): string {
      const mount = Object.keys(writable).find((m) => inside === m || inside.startsWith(`${m}/`));
      if (!mount) throw new Error(`${inside} is not under a writable path of ${app} (${Object.keys(writable).join(', ')})`);
      return path.join(writable[mount]!, path.relative(mount, inside));
    }

    async function start(writable: Record<string, string>, cmd?: string[]): Promise<RunningContainer> {
      const running = await runContainer({
        rootfs,
        config: cmd ? { ...config, Cmd: cmd } : config,
        env: pod.env,
        writable,
        hostname: pod.podName,
      });
      cleanups.push(async () => running.kill('SIGKILL'));
      return running;
    }

    /** SIGTERM as the kubelet sends it; SIGKILL when the grace period runs out (which fails the test). */
    async function terminate(running: RunningContainer): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
      running.kill('SIGTERM');
      const graceMs = pod.terminationGracePeriodSeconds * 1000;
      const killed = sleep(graceMs).then(() => {
        running.kill('SIGKILL');
        return { code: null, signal: 'SIGKILL' as const, overran: true };
      });
      return Promise.race([running.exited, killed]);
    }

    /** PID 1 is the image's command, alone, with the image's user and no privileges. */
    function expectOnlyTheApp(running: RunningContainer): void {
      const processes = running.processes();
      console.log(`images: ${app}: processes in the container: ${processes.map((p) => `${p.pid} ${p.argv.join(' ')}`).join('; ')}`);
      expect(processes).toEqual([{ pid: 1, argv: [...config.Entrypoint, ...config.Cmd] }]);
      const status = running.status();
      const { uid, gid } = { uid: String(pod.runAsUser), gid: String(pod.runAsGroup) };
      expect(status['Uid']?.split(/\s+/)).toEqual([uid, uid, uid, uid]);
      expect(status['Gid']?.split(/\s+/)).toEqual([gid, gid, gid, gid]);
      expect(status['Groups']).toBe('');
      expect(status['CapEff']).toBe('0000000000000000');
      const mounts = running.mounts();
      expect(mounts.get('/'), 'root filesystem').toContain('ro');
      for (const inside of pod.writablePaths) expect(mounts.get(inside), inside).toContain('rw');
      const writableMounts = [...mounts].filter(
        ([point, options]) => options.includes('rw') && !['/proc', '/dev'].includes(point) && !point.startsWith('/dev/'),
      );
      expect(writableMounts.map(([point]) => point).sort()).toEqual([...pod.writablePaths].sort());
    }

    it('has the numeric user the manifest runs, an exec-form node command, and EXPOSE only where it serves', () => {
      image();
      expect(pod.readOnlyRootFilesystem).toBe(true);
      expect(config.User).toBe(`${pod.runAsUser}:${pod.runAsGroup}`);
      expect(config.Entrypoint).toEqual([]);
      expect(config.Cmd).toEqual(['node', 'main.js']);
      expect(config.WorkingDir).toBe('/app');
      expect(config.Env).toContain('NODE_ENV=production');
      expect(config.ExposedPorts).toEqual(pod.port === undefined ? [] : [`${pod.port}/tcp`]);
    });

    it('holds the bundle and exactly its production dependencies, owned by root, and they load', async () => {
      image();
      const app_ = path.join(rootfs, 'app');
      const declared =
        (JSON.parse(readFileSync(path.join(app_, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }).dependencies ?? {};
      const installed = installedPackages(path.join(app_, 'node_modules'));
      console.log(`images: ${app}: node_modules holds ${installed.size} packages; declared: ${Object.keys(declared).join(' ')}`);
      for (const [name, version] of Object.entries(declared)) expect(installed.get(name), name).toBe(version);
      expect([...installed.keys()].filter((name) => [...NEVER, ...NOT_FOR[app]].some((p) => p.test(name)))).toEqual([]);
      // what the Dockerfile strips: nothing Node loads
      expect(filesMatching(path.join(app_, 'node_modules'), /\.(map|d\.ts|ts|mts|cts)$/)).toEqual([]);
      for (const file of ['main.js', 'package.json', 'node_modules']) expect(statSync(path.join(app_, file)).uid, file).toBe(0);
      expect(statSync(path.join(app_, 'main.js')).mode & 0o022).toBe(0);
      expect(existsSync(path.join(rootfs, 'root', '.npm')), 'npm cache in the image').toBe(false);
      // every declared package imports inside the container (so the stripping broke none of them)
      const script = `for (const name of ${JSON.stringify(Object.keys(declared))}) await import(name); console.log('imported');`;
      const running = await start(volumes('imports'), ['node', '--input-type=module', '-e', script]);
      expect(await running.exited, running.stderr()).toEqual({ code: 0, signal: null });
      expect(running.stdout()).toContain('imported');
    });

    if (app === 'worker-job') {
      it('processes one message from an embedded queue in its emptyDir, writes the result and exits 0', async () => {
        image();
        const writable = volumes('one');
        const queueDir = hostPath(writable, pod.env['EMBEDDED_QUEUE_DIR']!);
        const { messages, outgoing } = workMessages({ loadId: 'image-e2e', count: 1, work: { durationMs: 20 } });
        await withQueue(queueDir, pod.env['QUEUE_NAME']!, (queue) => queue.send(outgoing), pod);
        const running = await start(writable);
        const exit = await Promise.race([running.exited, sleep(pod.terminationGracePeriodSeconds * 1000).then(() => 'timeout' as const)]);
        if (exit === 'timeout') running.kill('SIGKILL');
        expect(exit, running.stderr()).toEqual({ code: 0, signal: null });
        const result = path.join(hostPath(writable, pod.env['RESULTS_DIR']!), 'image-e2e', `${messages[0]!.id}.json`);
        expect(existsSync(result), `${result}; logs: ${running.stdout().slice(-600)}`).toBe(true);
        expect(JSON.parse(readFileSync(result, 'utf8'))).toMatchObject({ messageId: messages[0]!.id, loadId: 'image-e2e' });
        expect(running.stdout()).toContain('worker-job finished');
        await withQueue(
          queueDir,
          pod.env['QUEUE_NAME']!,
          async (queue) => expect(await queue.depth()).toEqual({ ready: 0, inFlight: 0, deadLettered: 0 }),
          pod,
        );
      });

      it('runs alone as PID 1 and, on SIGTERM mid-work, hands the message back and exits 0 within its grace period', async () => {
        image();
        const writable = volumes('term');
        const queueDir = hostPath(writable, pod.env['EMBEDDED_QUEUE_DIR']!);
        const { outgoing } = workMessages({ loadId: 'image-e2e-term', count: 1, work: { durationMs: 120_000, mode: 'wait' } });
        await withQueue(queueDir, pod.env['QUEUE_NAME']!, (queue) => queue.send(outgoing), pod);
        const running = await start(writable);
        const deadline = Date.now() + 20_000;
        while ((await withQueue(queueDir, pod.env['QUEUE_NAME']!, (queue) => queue.depth(), pod)).inFlight !== 1) {
          if (Date.now() > deadline) throw new Error(`worker-job did not take the message: ${running.stderr()}`);
          await sleep(100);
        }
        expectOnlyTheApp(running);
        expect(await terminate(running), running.stderr()).toEqual({ code: 0, signal: null });
        expect((await withQueue(queueDir, pod.env['QUEUE_NAME']!, (queue) => queue.depth(), pod)).ready).toBe(1);
      });

      it(`adds at most ${mb(WORKER_JOB_OWN_LAYERS_MAX_GZIP)} of compressed layers to its base`, () => {
        const own = image().layers.filter((l) => l.own);
        expect(own.length).toBeGreaterThan(0);
        expect(own.reduce((sum, l) => sum + l.gzipBytes, 0)).toBeLessThanOrEqual(WORKER_JOB_OWN_LAYERS_MAX_GZIP);
      });
    } else {
      it('answers /livez inside its network namespace, runs alone as PID 1, and exits 0 on SIGTERM within its grace period', async () => {
        image();
        expect(pod.port).toBeDefined();
        const running = await start(volumes('serve'));
        const url = `http://127.0.0.1:${pod.env['PORT'] ?? pod.port}/livez`;
        const deadline = Date.now() + 30_000;
        let last: unknown;
        for (;;) {
          last = await running.get(url).catch((error: unknown) => (error as Error).message);
          if ((last as { status?: number }).status === 200) break;
          if (Date.now() > deadline)
            throw new Error(`${url} did not answer 200 (last: ${JSON.stringify(last)}); stderr: ${running.stderr().slice(-600)}`);
          await sleep(200);
        }
        expectOnlyTheApp(running);
        expect(await running.get(`http://127.0.0.1:${pod.env['PORT'] ?? pod.port}/metrics`).then((r) => r.status)).toBe(200);
        expect(await terminate(running), running.stderr()).toEqual({ code: 0, signal: null });
      });
    }
  });

  it('builds leave no buildah working container behind (they would pile up on a CI machine)', () => {
    expect(leftContainers).toEqual([]);
  });

  it('prints the figures: image size and the layers each app adds', () => {
    const rows = IMAGE_APPS.filter((app) => built.has(app)).map((app) => {
      const image = built.get(app)!;
      const own = image.layers.filter((l) => l.own);
      const sum = (key: 'bytes' | 'gzipBytes') => own.reduce((s, l) => s + l[key], 0);
      return `| ${app} | ${mb(image.size)} | ${mb(image.layers.filter((l) => !l.own).reduce((s, l) => s + l.gzipBytes, 0))} | ${mb(sum('bytes'))} | ${mb(sum('gzipBytes'))} |`;
    });
    console.log(
      [
        'images: | app | image | base (gz) | app layers | app layers (gz) |',
        'images: | --- | --- | --- | --- | --- |',
        ...rows.map((r) => `images: ${r}`),
      ].join('\n'),
    );
    expect(rows).toHaveLength(IMAGE_APPS.length);
  });
});

/** The embedded queue in a pod's emptyDir, opened from the host; its files stay the pod user's. */
async function withQueue<T>(dir: string, queueName: string, use: (queue: QueueClient) => Promise<T>, pod: PodRun): Promise<T> {
  const queue = await createQueueClient({
    kind: 'embedded',
    queue: queueName,
    dir,
    leaseMs: 30_000,
    maxDeliveries: 5,
    maxProcessingMs: 60_000,
  });
  try {
    return await use(queue);
  } finally {
    await queue.close();
    for (const file of [dir, ...readdirSync(dir).map((name) => path.join(dir, name))])
      chownSync(file, pod.runAsUser ?? 0, pod.runAsGroup ?? 0);
  }
}

/** Top-level packages in node_modules (scoped ones included) with their versions. */
function installedPackages(nodeModules: string): Map<string, string> {
  const found = new Map<string, string>();
  const read = (dir: string, prefix: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
      if (entry.name.startsWith('@') && prefix === '') {
        read(path.join(dir, entry.name), `${entry.name}/`);
        continue;
      }
      const manifest = path.join(dir, entry.name, 'package.json');
      if (existsSync(manifest)) found.set(prefix + entry.name, (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version);
    }
  };
  read(nodeModules, '');
  return found;
}

function filesMatching(dir: string, pattern: RegExp): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && pattern.test(e.name))
    .map((e) => path.join(e.parentPath, e.name));
}
