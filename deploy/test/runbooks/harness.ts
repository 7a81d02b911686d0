/**
 * Runs a runbook script with recording stand-ins on PATH. Every CLI name (az, kubectl, helm, eksctl,
 * aws, docker, npm, npx, curl) is a link to `standins/standin.sh`, which forwards its argv and stdin
 * over loopback to the model in this process and replays the model's answer. This checks the
 * script's flow (what it calls, in which order, with which names), not the cloud.
 */
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, symlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const STANDIN_CLIS = ['az', 'kubectl', 'helm', 'eksctl', 'aws', 'docker', 'npm', 'npx', 'curl'] as const;
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const RUNBOOKS = path.join(REPO, 'deploy/runbooks');
const STANDIN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'standins/standin.sh');

export interface Call {
  readonly cli: string;
  readonly cwd: string;
  readonly argv: readonly string[];
  readonly stdin: string;
}

export interface Answer {
  readonly code: number;
  readonly stdout?: string;
  readonly stderr?: string;
  /** run the real program instead (kubectl kustomize, npm run check-manifests) */
  readonly pass?: boolean;
}

export type Handler = (call: Call) => Answer;

/** Parses one request: NUL-separated name, cwd, argc, argv…, stdin length, then that many stdin bytes. */
function parseRequest(buffer: Buffer): Call | undefined {
  const fields: string[] = [];
  let at = 0;
  const next = (): string | undefined => {
    const end = buffer.indexOf(0, at);
    if (end < 0) return undefined;
    const field = buffer.subarray(at, end).toString('utf8');
    at = end + 1;
    return field;
  };
  const cli = next();
  const cwd = next();
  const argc = next();
  if (cli === undefined || cwd === undefined || argc === undefined) return undefined;
  for (let i = 0; i < Number(argc); i++) {
    const arg = next();
    if (arg === undefined) return undefined;
    fields.push(arg);
  }
  const length = next();
  if (length === undefined || buffer.length - at < Number(length)) return undefined;
  return { cli, cwd, argv: fields, stdin: buffer.subarray(at, at + Number(length)).toString('utf8') };
}

/** The loopback server the stand-ins talk to; `record` gets one JSON line per call (SURGE_RECORD). */
export async function startStandinServer(handler: Handler, record: string): Promise<{ port: number; server: Server }> {
  const server = createServer((socket) => {
    let buffer = Buffer.alloc(0);
    let answered = false;
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      const call = answered ? undefined : parseRequest(buffer);
      if (!call) return;
      answered = true;
      let answer: Answer;
      try {
        answer = handler(call);
      } catch (error) {
        answer = { code: 99, stderr: `flow-test model: ${(error as Error).message}\n` };
      }
      appendFileSync(record, `${JSON.stringify({ cli: call.cli, argv: call.argv, code: answer.code, pass: answer.pass ?? false })}\n`);
      const stdout = Buffer.from(answer.stdout ?? '', 'utf8');
      socket.end(
        Buffer.concat([
          Buffer.from(`${answer.code}\n${answer.pass ? 'pass' : 'answer'}\n${stdout.length}\n`),
          stdout,
          Buffer.from(answer.stderr ?? '', 'utf8'),
        ]),
      );
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('stand-in server has no port');
  return { port: address.port, server };
}

/** The real program of a stood-in CLI: the first on PATH outside the stand-in folder. */
function realProgram(name: string, pathValue: string): string {
  const found = spawnSync('bash', ['-c', `command -v ${name}`], { env: { PATH: pathValue }, encoding: 'utf8' });
  const real = found.stdout.trim();
  if (found.status !== 0 || real === '') throw new Error(`${name} is not installed (the flow test passes some ${name} calls through)`);
  return real;
}

/** A folder with one link per CLI name to the stand-in, to put first on PATH. */
export function standinBin(): string {
  const bin = mkdtempSync(path.join(tmpdir(), 'surge-standins-'));
  for (const cli of STANDIN_CLIS) symlinkSync(STANDIN, path.join(bin, cli));
  return bin;
}

export interface ScriptRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `bash <script> ARGS` (a name in deploy/runbooks, or an absolute path) with the stand-ins first on PATH; stdin is /dev/null. */
export function runScript(
  script: string,
  args: readonly string[],
  options: { bin: string; port: number; record: string; env?: Record<string, string> },
): Promise<ScriptRun> {
  const inherited = process.env['PATH'] ?? '';
  const env: Record<string, string> = {
    HOME: process.env['HOME'] ?? tmpdir(),
    PATH: `${options.bin}:${inherited}`,
    LANG: 'C.UTF-8',
    SURGE_STANDIN_PORT: String(options.port),
    SURGE_RECORD: options.record,
    SURGE_REAL_KUBECTL: realProgram('kubectl', inherited),
    SURGE_REAL_NPM: realProgram('npm', inherited),
    ...options.env,
  };
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [path.isAbsolute(script) ? script : path.join(RUNBOOKS, script), ...args], {
      cwd: REPO,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
