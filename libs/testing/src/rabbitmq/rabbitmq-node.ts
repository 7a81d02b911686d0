/**
 * A RabbitMQ broker for tests and benchmarks, in this order of preference:
 *  1. `RABBITMQ_URL` (+ `RABBITMQ_MANAGEMENT_URL`) from the environment — an operator-provided broker;
 *  2. a private node from the Debian `rabbitmq-server` package: loopback only, free ports, its own
 *     epmd, cookie, data, logs and config in a temp folder — never the system service;
 *  3. testcontainers, when a Docker engine answers.
 * When none is possible it fails with one line that says what to install or set.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sleep } from '@surge/core';
import { freeLoopbackPorts, portAnswers } from './ports.ts';

export interface RabbitMqEndpoint {
  /** `amqp://user:pass@127.0.0.1:port/` — holds a password: never log it. */
  url: string;
  /** `http://user:pass@127.0.0.1:port` — holds a password: never log it. */
  managementUrl: string | undefined;
}

export type RabbitMqSource = 'env' | 'private-node' | 'testcontainers';

export interface RabbitMqInstance extends RabbitMqEndpoint {
  readonly source: RabbitMqSource;
  /** Erlang node name of a private node (`surge-…@localhost`). */
  readonly nodeName: string | undefined;
  /** Temp folder of a private node (data, logs, config, HOME with the cookie); removed by `stop()`. */
  readonly dir: string | undefined;
  /** True when `stopBroker`/`startBroker`/`ctl` work (private nodes only). */
  readonly controllable: boolean;
  /** Stops the broker and removes everything it created (processes, temp folder). Idempotent. */
  stop(): Promise<void>;
  /** Stops the broker process but keeps its ports and data, for fault tests. `kill` = SIGKILL, no graceful shutdown. */
  stopBroker(options?: { kill?: boolean }): Promise<void>;
  /** Starts the broker again on the same ports with the same data; resolves when AMQP and management answer. */
  startBroker(): Promise<void>;
  /** Runs `rabbitmqctl <args>` against the private node (e.g. to raise a memory alarm). */
  ctl(args: readonly string[]): Promise<string>;
}

export interface StartRabbitMqOptions {
  /** Where `RABBITMQ_URL`/`RABBITMQ_MANAGEMENT_URL` are looked up; `process.env` by default. Pass `{}` to force a private node. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Start-up budget (the machine is shared; a cold node takes 5–15 s). Default 90 s. */
  startTimeoutMs?: number;
  /** Management statistics and quorum-queue tick interval of a private node; small so depth reads are fresh in tests. Default 250 ms. */
  statsIntervalMs?: number;
}

const RABBITMQ_LIB = '/usr/lib/rabbitmq/lib';
const INSTALL_HINT =
  'RabbitMQ for tests: install it (`apt-get install -y rabbitmq-server`; only the binaries are used, the system service stays off) or set RABBITMQ_URL=amqp://user:pass@127.0.0.1:5672/ (and RABBITMQ_MANAGEMENT_URL=http://user:pass@127.0.0.1:15672)';

export class RabbitMqUnavailableError extends Error {
  constructor(detail?: string) {
    super(detail === undefined ? INSTALL_HINT : `${INSTALL_HINT} — ${detail}`);
    this.name = 'RabbitMqUnavailableError';
  }
}

export async function startRabbitMq(options: StartRabbitMqOptions = {}): Promise<RabbitMqInstance> {
  const env = options.env ?? process.env;
  const url = env.RABBITMQ_URL?.trim();
  if (url) return externalBroker(url, env.RABBITMQ_MANAGEMENT_URL?.trim() || undefined);

  const scripts = findServerScripts();
  if (scripts) return PrivateNode.start(scripts, options);
  if (dockerMayAnswer(env)) return startContainer();
  throw new RabbitMqUnavailableError();
}

function externalBroker(url: string, managementUrl: string | undefined): RabbitMqInstance {
  const notControllable = () =>
    Promise.reject(new Error('broker faults need a private node: unset RABBITMQ_URL to let the harness start one'));
  return {
    source: 'env',
    url,
    managementUrl,
    nodeName: undefined,
    dir: undefined,
    controllable: false,
    stop: async () => {},
    stopBroker: notControllable,
    startBroker: notControllable,
    ctl: notControllable,
  };
}

interface ServerScripts {
  server: string;
  ctl: string;
}

/** The package's own scripts, not the `/usr/sbin` wrapper (which switches to the `rabbitmq` user). */
function findServerScripts(): ServerScripts | undefined {
  const candidates: string[] = [];
  if (fs.existsSync(RABBITMQ_LIB)) {
    for (const dir of fs
      .readdirSync(RABBITMQ_LIB)
      .filter((d) => d.startsWith('rabbitmq_server-'))
      .sort()
      .reverse()) {
      candidates.push(path.join(RABBITMQ_LIB, dir, 'sbin'));
    }
  }
  candidates.push('/usr/lib/rabbitmq/bin');
  for (const dir of candidates) {
    const server = path.join(dir, 'rabbitmq-server');
    const ctl = path.join(dir, 'rabbitmqctl');
    if (fs.existsSync(server) && fs.existsSync(ctl)) return { server, ctl };
  }
  return undefined;
}

function dockerMayAnswer(env: Readonly<Record<string, string | undefined>>): boolean {
  return Boolean(env.DOCKER_HOST) || fs.existsSync('/var/run/docker.sock');
}

async function startContainer(): Promise<RabbitMqInstance> {
  let container: import('@testcontainers/rabbitmq').StartedRabbitMQContainer;
  try {
    const { RabbitMQContainer } = await import('@testcontainers/rabbitmq');
    container = await new RabbitMQContainer('rabbitmq:3.13-management-alpine').start();
  } catch (error) {
    throw new RabbitMqUnavailableError(
      `Docker did not start a RabbitMQ container: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
    );
  }
  const notControllable = () => Promise.reject(new Error('broker faults need a private node (install rabbitmq-server)'));
  const host = container.getHost() === 'localhost' ? '127.0.0.1' : container.getHost();
  let stopped = false;
  return {
    source: 'testcontainers',
    url: `amqp://guest:guest@${host}:${container.getMappedPort(5672)}/`,
    managementUrl: `http://guest:guest@${host}:${container.getMappedPort(15672)}`,
    nodeName: undefined,
    dir: undefined,
    controllable: false,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await container.stop();
    },
    stopBroker: notControllable,
    startBroker: notControllable,
    ctl: notControllable,
  };
}

/** Children of every private node of this process, killed synchronously if the process exits without `stop()`. */
const liveGroups = new Set<number>();
let exitHookInstalled = false;
function trackGroup(pid: number): void {
  liveGroups.add(pid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const group of liveGroups) killGroup(group, 'SIGKILL');
  });
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

interface NodePorts {
  amqp: number;
  management: number;
  dist: number;
  epmd: number;
}

class PrivateNode implements RabbitMqInstance {
  readonly source = 'private-node' as const;
  readonly controllable = true;
  readonly url: string;
  readonly managementUrl: string;
  readonly nodeName: string;
  readonly #scripts: ServerScripts;
  readonly dir: string;
  readonly #env: NodeJS.ProcessEnv;
  readonly #ports: NodePorts;
  readonly #auth: string;
  readonly #startTimeoutMs: number;
  #epmd: ChildProcess | undefined;
  #server: ChildProcess | undefined;
  #stopped = false;

  private constructor(scripts: ServerScripts, dir: string, ports: NodePorts, options: StartRabbitMqOptions) {
    this.#scripts = scripts;
    this.dir = dir;
    this.#ports = ports;
    this.#startTimeoutMs = options.startTimeoutMs ?? 90_000;
    const id = randomBytes(4).toString('hex');
    const password = randomBytes(12).toString('hex');
    const user = 'surge';
    this.nodeName = `surge-${id}@localhost`;
    this.url = `amqp://${user}:${password}@127.0.0.1:${ports.amqp}/`;
    this.managementUrl = `http://${user}:${password}@127.0.0.1:${ports.management}`;
    this.#auth = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

    const home = path.join(dir, 'home');
    const conf = path.join(dir, 'etc');
    for (const d of [home, conf, path.join(dir, 'data'), path.join(dir, 'log')]) fs.mkdirSync(d, { recursive: true });
    // A private cookie: no other node or CLI on this machine can talk to this one by accident.
    fs.writeFileSync(path.join(home, '.erlang.cookie'), randomBytes(20).toString('hex').toUpperCase(), { mode: 0o400 });
    fs.writeFileSync(path.join(conf, 'rabbitmq-env.conf'), '# private test node: everything comes from the environment\n');
    fs.writeFileSync(path.join(conf, 'enabled_plugins'), '[rabbitmq_management].\n');
    // Quorum queues report their counters on a tick (5 s by default); the management API shows them
    // only after the next tick *and* the next statistics collection. All short here so depth reads
    // in tests settle quickly (production brokers lag by ~5 s, as KEDA sees them).
    const statsIntervalMs = options.statsIntervalMs ?? 250;
    // Message counts are also kept as samples of 5 s granularity; 1 s here.
    fs.writeFileSync(
      path.join(conf, 'advanced.config'),
      `[{rabbit, [{quorum_tick_interval, ${statsIntervalMs}}]},\n` +
        ` {rabbitmq_management_agent, [{sample_retention_policies, [{global, [{605, 1}]}, {basic, [{605, 1}]}, {detailed, [{65, 1}]}]}]}].\n`,
    );
    fs.writeFileSync(
      path.join(conf, 'rabbitmq.conf'),
      [
        `default_user = ${user}`,
        `default_pass = ${password}`,
        'default_user_tags.administrator = true',
        'loopback_users = none',
        'management.tcp.ip = 127.0.0.1',
        `management.tcp.port = ${ports.management}`,
        'management.rates_mode = none',
        `collect_statistics_interval = ${statsIntervalMs}`,
        'log.console = false',
        'log.file.level = info',
        '',
      ].join('\n'),
    );

    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(([key]) => !key.startsWith('RABBITMQ_') && !key.startsWith('ERL_')),
    );
    const loopbackDist = '-kernel inet_dist_use_interface {127,0,0,1}';
    this.#env = {
      ...inherited,
      HOME: home,
      RABBITMQ_NODENAME: this.nodeName,
      RABBITMQ_USE_LONGNAME: 'false',
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(ports.amqp),
      RABBITMQ_DIST_PORT: String(ports.dist),
      ERL_EPMD_ADDRESS: '127.0.0.1',
      ERL_EPMD_PORT: String(ports.epmd),
      RABBITMQ_MNESIA_BASE: path.join(dir, 'data'),
      RABBITMQ_LOG_BASE: path.join(dir, 'log'),
      RABBITMQ_CONF_ENV_FILE: path.join(conf, 'rabbitmq-env.conf'),
      RABBITMQ_CONFIG_FILE: path.join(conf, 'rabbitmq.conf'),
      RABBITMQ_ADVANCED_CONFIG_FILE: path.join(conf, 'advanced.config'),
      RABBITMQ_ENABLED_PLUGINS_FILE: path.join(conf, 'enabled_plugins'),
      RABBITMQ_PID_FILE: path.join(dir, 'rabbitmq.pid'),
      // Erlang distribution (node and CLI) listens on loopback only.
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: loopbackDist,
      RABBITMQ_CTL_ERL_ARGS: loopbackDist,
    };
  }

  static async start(scripts: ServerScripts, options: StartRabbitMqOptions): Promise<PrivateNode> {
    let lastError: unknown;
    // Free ports can be taken by someone else between the probe and the bind: retry with new ones.
    for (let attempt = 0; attempt < 3; attempt++) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'surge-rabbitmq-'));
      const [amqp, management, dist, epmd] = (await freeLoopbackPorts(4)) as [number, number, number, number];
      const node = new PrivateNode(scripts, dir, { amqp, management, dist, epmd }, options);
      try {
        await node.#startEpmd();
        await node.startBroker();
        return node;
      } catch (error) {
        lastError = error;
        await node.stop();
      }
    }
    throw lastError;
  }

  async #startEpmd(): Promise<void> {
    // Our own epmd in the foreground (not `-daemon`), so it is our child and dies with stop().
    const epmd = spawn('epmd', ['-port', String(this.#ports.epmd), '-address', '127.0.0.1'], {
      env: this.#env,
      stdio: 'ignore',
      detached: true,
    });
    await new Promise<void>((resolve, reject) => {
      epmd.once('spawn', resolve);
      epmd.once('error', reject);
    });
    this.#epmd = epmd;
    trackGroup(epmd.pid!);
    const deadline = Date.now() + 10_000;
    while (!(await portAnswers(this.#ports.epmd))) {
      if (exited(epmd) || Date.now() > deadline) throw new Error(`epmd did not listen on 127.0.0.1:${this.#ports.epmd}`);
      await sleep(50);
    }
  }

  async startBroker(): Promise<void> {
    if (this.#stopped) throw new Error('this RabbitMQ node was stopped');
    if (this.#server && !exited(this.#server)) return;
    const logFile = path.join(this.dir, 'log', 'console.log');
    const out = fs.openSync(logFile, 'a');
    let server: ChildProcess;
    try {
      server = spawn(this.#scripts.server, [], { env: this.#env, stdio: ['ignore', out, out], detached: true, cwd: this.dir });
    } finally {
      fs.closeSync(out);
    }
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('spawn', resolve);
      server.once('error', reject);
    });
    trackGroup(server.pid!);
    server.once('exit', () => liveGroups.delete(server.pid!));

    const deadline = Date.now() + this.#startTimeoutMs;
    for (;;) {
      if (exited(server)) throw new Error(`RabbitMQ node ${this.nodeName} exited during start-up; last log lines:\n${this.#logTail()}`);
      if (Date.now() > deadline)
        throw new Error(
          `RabbitMQ node ${this.nodeName} did not answer within ${this.#startTimeoutMs} ms; last log lines:\n${this.#logTail()}`,
        );
      if ((await portAnswers(this.#ports.amqp)) && (await this.#managementAnswers())) return;
      await sleep(200);
    }
  }

  async #managementAnswers(): Promise<boolean> {
    try {
      const response = await fetch(`http://127.0.0.1:${this.#ports.management}/api/overview`, {
        headers: { authorization: this.#auth },
        signal: AbortSignal.timeout(2000),
      });
      await response.arrayBuffer();
      return response.ok;
    } catch {
      return false;
    }
  }

  #logTail(): string {
    const lines: string[] = [];
    for (const file of ['console.log', `${this.nodeName}.log`]) {
      try {
        lines.push(
          ...fs
            .readFileSync(path.join(this.dir, 'log', file), 'utf8')
            .trim()
            .split('\n')
            .slice(-15),
        );
      } catch {
        // not written yet
      }
    }
    return lines.join('\n');
  }

  async stopBroker(options: { kill?: boolean } = {}): Promise<void> {
    const server = this.#server;
    if (!server || exited(server)) return;
    if (options.kill) {
      killGroup(server.pid!, 'SIGKILL');
      await waitExit(server, 10_000);
      return;
    }
    // SIGTERM is RabbitMQ's graceful shutdown; the whole group also takes erl_child_setup and friends.
    killGroup(server.pid!, 'SIGTERM');
    if (!(await waitExit(server, 30_000))) {
      killGroup(server.pid!, 'SIGKILL');
      await waitExit(server, 10_000);
    }
    // Helper processes of the VM may linger a moment after beam exits.
    killGroup(server.pid!, 'SIGKILL');
  }

  async ctl(args: readonly string[]): Promise<string> {
    const child = spawn(this.#scripts.ctl, ['-n', this.nodeName, ...args], { env: this.#env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', resolve);
    });
    if (code !== 0) throw new Error(`rabbitmqctl ${args.join(' ')} failed (${code}): ${output.trim()}`);
    return output;
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    // The data is thrown away, so there is nothing to shut down gracefully.
    await this.stopBroker({ kill: true }).catch(() => undefined);
    this.#stopped = true;
    const epmd = this.#epmd;
    if (epmd && !exited(epmd)) {
      killGroup(epmd.pid!, 'SIGTERM');
      if (!(await waitExit(epmd, 5000))) killGroup(epmd.pid!, 'SIGKILL');
    }
    if (epmd) liveGroups.delete(epmd.pid!);
    // A last sweep in case something in the groups survived.
    if (this.#server) killGroup(this.#server.pid!, 'SIGKILL');
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
