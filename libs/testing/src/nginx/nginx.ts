/**
 * A private nginx for tests and benchmarks: the Debian `nginx`/`nginx-light` binary in the foreground,
 * with its own prefix, config, pid, logs and temp folders in a temp dir, listening on a free loopback
 * port — never the system service. It serves `stub_status` and a location that answers 200 with a
 * body that is not stub_status output (for the exporter's malformed-page path).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { sleep } from '@surge/core';
import { freeLoopbackPorts, portAnswers } from '../rabbitmq/ports.ts';

export interface StartNginxOptions {
  /** Start-up budget. Default 15 s. */
  startTimeoutMs?: number;
  /** Path of the stub_status location. Default `/stub_status`. */
  statusPath?: string;
}

export interface HeldConnections {
  readonly count: number;
  /** Closes the held connections. */
  release(): Promise<void>;
}

export interface NginxInstance {
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** `http://127.0.0.1:<port>/stub_status` */
  readonly statusUrl: string;
  /** A location on the same server answering 200 with a body that is not stub_status output. */
  readonly malformedStatusUrl: string;
  /** True while the nginx process runs. */
  readonly running: boolean;
  /** The `Active connections` nginx reports right now. */
  activeConnections(): Promise<number>;
  /**
   * Opens `count` idle TCP connections to nginx and resolves once nginx counts them as active
   * (they stay in `Waiting` until released, or until nginx's client_header_timeout of 60 s).
   */
  holdConnections(count: number): Promise<HeldConnections>;
  /** Stops nginx and removes its folder. Idempotent. */
  stop(): Promise<void>;
}

export const MALFORMED_STATUS_BODY = 'Active connections: lots\nnot a stub_status page\n';

function findNginx(): string | undefined {
  return ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx'].find((p) => fs.existsSync(p));
}

function config(dir: string, port: number, statusPath: string): string {
  const tmp = (name: string) => path.join(dir, 'tmp', name);
  // Workers drop to an unprivileged user only when the master runs as root; Debian has no "nobody" group.
  const user = process.getuid?.() === 0 ? 'user nobody nogroup;\n' : '';
  return `${user}daemon off;
master_process on;
worker_processes 1;
pid ${path.join(dir, 'nginx.pid')};
error_log ${path.join(dir, 'error.log')} warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${tmp('body')};
  proxy_temp_path ${tmp('proxy')};
  fastcgi_temp_path ${tmp('fastcgi')};
  uwsgi_temp_path ${tmp('uwsgi')};
  scgi_temp_path ${tmp('scgi')};
  server {
    listen 127.0.0.1:${port};
    location = ${statusPath} { stub_status; }
    location = /malformed_status { default_type text/plain; return 200 ${JSON.stringify(MALFORMED_STATUS_BODY)}; }
    location / { default_type text/plain; return 200 "ok\\n"; }
  }
}
`;
}

export async function startNginx(options: StartNginxOptions = {}): Promise<NginxInstance> {
  const binary = findNginx();
  if (!binary)
    throw new Error(
      'nginx for tests: install it (`apt-get install -y nginx-light`; only the binary is used, the system service stays off)',
    );
  const statusPath = options.statusPath ?? '/stub_status';
  const startTimeoutMs = options.startTimeoutMs ?? 15_000;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'surge-nginx-'));
  // Workers run as nobody and must reach the temp folders.
  fs.chmodSync(dir, 0o755);
  fs.mkdirSync(path.join(dir, 'tmp'), { mode: 0o755 });

  for (let attempt = 1; ; attempt++) {
    const [port] = (await freeLoopbackPorts(1)) as [number];
    const confFile = path.join(dir, 'nginx.conf');
    fs.writeFileSync(confFile, config(dir, port, statusPath));
    const child = spawn(binary, ['-p', dir, '-c', confFile, '-e', path.join(dir, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const deadline = Date.now() + startTimeoutMs;
    let up = false;
    while (Date.now() < deadline && child.exitCode === null && child.signalCode === null) {
      if (await portAnswers(port, 200)) {
        up = true;
        break;
      }
      await sleep(50);
    }
    if (up) return new PrivateNginx(child, dir, port, statusPath);
    await stopChild(child);
    const log = readTail(path.join(dir, 'error.log')) || stderr;
    // Another process may have taken the free port between the probe and nginx's bind.
    if (attempt < 3 && /Address already in use/.test(log)) continue;
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`nginx did not start on 127.0.0.1:${port}: ${log.trim().slice(-500)}`);
  }
}

/** One GET on a fresh connection that closes afterwards, so measuring adds no idle keep-alive connection. */
function getOnce(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(body));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

function readTail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').slice(-2000);
  } catch {
    return '';
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM'); // nginx: fast shutdown
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

class PrivateNginx implements NginxInstance {
  readonly port: number;
  readonly url: string;
  readonly statusUrl: string;
  readonly malformedStatusUrl: string;
  private readonly child: ChildProcess;
  private readonly dir: string;
  // If the test process exits without calling stop() (a timed-out hook, a crash), still end the server:
  // SIGTERM, not SIGKILL, so its own workers go with it.
  private readonly onExit = () => this.child.kill('SIGTERM');
  private readonly sockets = new Set<net.Socket>();

  constructor(child: ChildProcess, dir: string, port: number, statusPath: string) {
    this.child = child;
    this.dir = dir;
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.statusUrl = `${this.url}${statusPath}`;
    this.malformedStatusUrl = `${this.url}/malformed_status`;
    process.once('exit', this.onExit);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async activeConnections(): Promise<number> {
    // Deliberately not the exporter's parser: the harness checks what the exporter reports.
    const text = await getOnce(this.statusUrl);
    const match = /Active connections:\s*(\d+)/.exec(text);
    if (!match) throw new Error(`unexpected stub_status page: ${JSON.stringify(text.slice(0, 100))}`);
    // The status request itself is one active connection.
    return Number(match[1]) - 1;
  }

  async holdConnections(count: number): Promise<HeldConnections> {
    const before = await this.activeConnections();
    const opened: net.Socket[] = [];
    const release = async () => {
      await Promise.all(
        opened.map(
          (socket) =>
            new Promise<void>((resolve) => {
              this.sockets.delete(socket);
              if (socket.destroyed) return resolve();
              socket.once('close', () => resolve());
              socket.destroy();
            }),
        ),
      );
    };
    try {
      for (let i = 0; i < count; i++) {
        const socket = net.connect({ host: '127.0.0.1', port: this.port });
        socket.on('error', () => {});
        opened.push(socket);
        this.sockets.add(socket);
        await new Promise<void>((resolve, reject) => {
          socket.once('connect', () => resolve());
          socket.once('error', reject);
        });
      }
      // The kernel completes the handshake before nginx accepts: wait until nginx counts them.
      const deadline = Date.now() + 10_000;
      while ((await this.activeConnections()) < before + count) {
        if (Date.now() > deadline) throw new Error(`nginx did not count ${count} held connections within 10 s`);
        await sleep(25);
      }
    } catch (error) {
      await release();
      throw error;
    }
    return { count, release };
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    process.off('exit', this.onExit);
    await stopChild(this.child);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
