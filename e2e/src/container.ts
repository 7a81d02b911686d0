/**
 * Runs a built image's own command the way a container runtime does, with what this machine has
 * (buildah cannot run containers here: no working OCI runtime; see e2e/README.md):
 *
 * - the image's root filesystem from `buildah from` + `buildah mount`;
 * - `unshare --pid --fork --mount --net --uts --ipc`: fresh namespaces, the app is PID 1;
 * - inside, before the app starts (as root, host tools): the root filesystem is bind-mounted
 *   read-only, each writable path (a pod's `emptyDir`) is a host folder bind-mounted over it,
 *   /proc is the new PID namespace's, /dev a tmpfs with null/zero/full/random/urandom/tty, `lo` up;
 * - then `exec unshare --root=<rootfs> --wd=<WorkingDir> --setuid --setgid`: chroot, the image's
 *   working folder, the image's numeric user and group (no supplementary groups, so no capability
 *   survives), and exec of the image's command with only the image's and the pod's environment.
 *   Every step execs the next, so the setup shell is gone and the app is PID 1.
 *
 * Needs root (as CI runs it) and util-linux's unshare/nsenter and iproute2's ip.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { promisify } from 'node:util';
import { sleep } from '@surge/core';

const exec = promisify(execFile);

export class ContainerError extends Error {
  readonly code = 'E2E_CONTAINER';
  readonly retryable = false;
}

/** The parts of an OCI image config a runtime uses to start it. */
export interface ImageConfig {
  User: string;
  WorkingDir: string;
  Env: string[];
  Cmd: string[];
  Entrypoint: string[];
  ExposedPorts: string[];
}

export async function buildah(args: string[], timeoutMs = 120_000): Promise<string> {
  try {
    const { stdout } = await exec('buildah', args, { maxBuffer: 64 * 1024 * 1024, timeout: timeoutMs });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new ContainerError(`buildah ${args.slice(0, 3).join(' ')}: ${(e.stderr ?? e.message).trim().split('\n').slice(-4).join(' | ')}`);
  }
}

export async function inspectImage(ref: string): Promise<ImageConfig> {
  const inspected = JSON.parse(await buildah(['inspect', '--type', 'image', ref])) as {
    OCIv1: { config?: Partial<Omit<ImageConfig, 'ExposedPorts'>> & { ExposedPorts?: Record<string, object> } };
  };
  const c = inspected.OCIv1.config ?? {};
  return {
    User: c.User ?? '',
    WorkingDir: c.WorkingDir ?? '/',
    Env: c.Env ?? [],
    Cmd: c.Cmd ?? [],
    Entrypoint: c.Entrypoint ?? [],
    ExposedPorts: Object.keys(c.ExposedPorts ?? {}),
  };
}

/** A working container of `ref` with its root filesystem mounted on the host. */
export async function mountImage(ref: string, name: string): Promise<{ rootfs: string; remove: () => Promise<void> }> {
  await buildah(['rm', name]).catch(() => undefined); // left over by a run that was killed
  const container = (await buildah(['from', '--pull-never', '--name', name, ref])).trim();
  const rootfs = (await buildah(['mount', container])).trim();
  return { rootfs, remove: async () => void (await buildah(['rm', container]).catch(() => undefined)) };
}

/** `1000:1000` → numbers; names are refused: a pod's runAsNonRoot needs a numeric user. */
export function numericUser(user: string): { uid: number; gid: number } {
  const match = /^(\d+)(?::(\d+))?$/.exec(user);
  if (!match) throw new ContainerError(`image USER ${JSON.stringify(user)}: expected a numeric uid[:gid]`);
  return { uid: Number(match[1]), gid: Number(match[2] ?? match[1]) };
}

export interface RunOptions {
  rootfs: string;
  config: ImageConfig;
  /** the pod's environment, on top of the image's Env */
  env: Record<string, string>;
  /** container path → host folder, bind-mounted read-write */
  writable: Record<string, string>;
  hostname: string;
}

export interface ProcessInfo {
  /** PID inside the container's PID namespace */
  pid: number;
  argv: string[];
}

export interface RunningContainer {
  /** the host PID of the container's PID 1, once it has exec'd the image's command */
  readonly pid: number;
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** the app's exit: code of PID 1 (relayed by `unshare --fork`), or the signal that killed it */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** every process in the container's PID namespace */
  processes(): ProcessInfo[];
  /** the container's mounts as it sees them: mount point → options */
  mounts(): Map<string, string[]>;
  /** `/proc/<pid>/status` of PID 1 */
  status(): Record<string, string>;
  /** an HTTP GET from inside the container's network namespace */
  get(url: string): Promise<{ status: number; body: string }>;
  kill(signal: NodeJS.Signals): void;
}

const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

function setupScript(options: RunOptions, uid: number, gid: number): string {
  const r = options.rootfs;
  const lines = [
    'set -eu',
    `R=${q(r)}`,
    'mount --bind "$R" "$R"',
    // mount points a runtime creates in the container's writable layer, as the kubelet does for volumes
    ...Object.entries(options.writable).flatMap(([inside, host]) => [
      `mkdir -p "$R"${q(inside)}`,
      `mount --bind ${q(host)} "$R"${q(inside)}`,
    ]),
    'mount -t proc -o nosuid,nodev,noexec proc "$R/proc"',
    'mount -t tmpfs -o nosuid,mode=755,size=64k tmpfs "$R/dev"',
    'for d in null zero full random urandom tty; do touch "$R/dev/$d"; mount --bind "/dev/$d" "$R/dev/$d"; done',
    'mount -o remount,bind,ro "$R"',
    'ip link set lo up',
    `hostname ${q(options.hostname)}`,
    `exec unshare --root="$R" --wd=${q(options.config.WorkingDir || '/')} --setuid=${uid} --setgid=${gid} -- "$@"`,
  ];
  return lines.join('\n');
}

const HOST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export async function runContainer(options: RunOptions): Promise<RunningContainer> {
  const { uid, gid } = numericUser(options.config.User);
  const argv = [...options.config.Entrypoint, ...options.config.Cmd];
  if (argv.length === 0) throw new ContainerError('image has no Entrypoint or Cmd');
  const env: Record<string, string> = {};
  for (const pair of options.config.Env) {
    const eq = pair.indexOf('=');
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  Object.assign(env, options.env);
  env['HOSTNAME'] = options.hostname;
  // The setup runs host tools before the chroot; the app gets exactly `env` (PATH included).
  const child: ChildProcess = spawn(
    'unshare',
    ['--pid', '--fork', '--mount', '--net', '--uts', '--ipc', '--', '/bin/sh', '-c', setupScript(options, uid, gid), 'setup', ...argv],
    {
      env: { ...env, PATH: env['PATH'] ?? HOST_PATH },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  let done = false;
  void exited.then(() => (done = true));
  // unshare --fork's only child is the container's PID 1; wait until it has exec'd the command
  const deadline = Date.now() + 15_000;
  let pid: number | undefined;
  while (pid === undefined) {
    if (done) throw new ContainerError(`the container exited during setup: ${err.trim().slice(-600)}`);
    if (Date.now() > deadline) throw new ContainerError(`the container did not start its command within 15 s: ${err.trim().slice(-600)}`);
    const children = readFileSafe(`/proc/${child.pid}/task/${child.pid}/children`).trim().split(/\s+/).filter(Boolean).map(Number);
    const first = children[0];
    if (first !== undefined && cmdline(first)[0] === argv[0] && readlinkSafe(`/proc/${first}/root`) === options.rootfs) pid = first;
    else await sleep(20);
  }
  const appPid = pid;
  const nsOf = (p: number) => readlinkSafe(`/proc/${p}/ns/pid`);
  return {
    pid: appPid,
    stdout: () => out,
    stderr: () => err,
    exited,
    processes: () => {
      const ns = nsOf(appPid);
      const found: ProcessInfo[] = [];
      for (const entry of readdirSync('/proc')) {
        if (!/^\d+$/.test(entry) || nsOf(Number(entry)) !== ns || ns === undefined) continue;
        const nspid = /^NSpid:\s*(.*)$/m
          .exec(readFileSafe(`/proc/${entry}/status`))?.[1]
          ?.trim()
          .split(/\s+/)
          .pop();
        found.push({ pid: Number(nspid), argv: cmdline(Number(entry)) });
      }
      return found.sort((a, b) => a.pid - b.pid);
    },
    mounts: () => {
      const mounts = new Map<string, string[]>();
      for (const line of readFileSafe(`/proc/${appPid}/mountinfo`).split('\n').filter(Boolean)) {
        const fields = line.split(' ');
        mounts.set(fields[4]!, fields[5]!.split(','));
      }
      return mounts;
    },
    status: () =>
      Object.fromEntries(
        readFileSafe(`/proc/${appPid}/status`)
          .split('\n')
          .filter(Boolean)
          .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]),
      ),
    get: async (url: string) => {
      const script = `const r = await fetch(${JSON.stringify(url)}, { signal: AbortSignal.timeout(2000) }); process.stdout.write(JSON.stringify({ status: r.status, body: await r.text() }));`;
      const { stdout } = await exec(
        'nsenter',
        [`--target=${appPid}`, '--net', '--', process.execPath, '--input-type=module', '-e', script],
        { timeout: 10_000 },
      );
      return JSON.parse(stdout) as { status: number; body: string };
    },
    kill: (signal) => {
      if (existsSync(`/proc/${appPid}`)) process.kill(appPid, signal);
    },
  };
}

function readFileSafe(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function readlinkSafe(file: string): string | undefined {
  try {
    return readlinkSync(file);
  } catch {
    return undefined;
  }
}

function cmdline(pid: number): string[] {
  return readFileSafe(`/proc/${pid}/cmdline`).split('\0').filter(Boolean);
}

/** What is missing on this machine to build and run images, or undefined when everything is there. */
export async function missingForImages(): Promise<string | undefined> {
  const has = async (command: string, args: string[]) =>
    exec(command, args).then(
      () => true,
      () => false,
    );
  if (!(await has('buildah', ['--version'])))
    return 'buildah is not installed (apt-get install buildah debootstrap; npm run test:all installs it)';
  if (process.getuid?.() !== 0)
    return 'building and running images here needs root (buildah storage, debootstrap, namespaces); CI runs as root';
  for (const [command, args] of [
    ['unshare', ['--version']],
    ['nsenter', ['--version']],
    ['ip', ['-V']],
  ] as const)
    if (!(await has(command, [...args]))) return `${command} is not installed`;
  if (!existsSync('/usr/sbin/debootstrap') && !existsSync('/usr/bin/debootstrap'))
    return 'debootstrap is not installed (it builds the stand-in base image; apt-get install debootstrap)';
  return undefined;
}
