import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Supervisor, SupervisorError, type ProcessSpec } from '../src/index.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'surge-supervisor-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function nodeScript(source: string, extra: Partial<ProcessSpec> = {}): ProcessSpec {
  return {
    command: process.execPath,
    args: ['-e', source],
    cwd: dir,
    env: { PATH: process.env.PATH ?? '' },
    terminationGraceMs: 5000,
    ...extra,
  };
}

const printsAndWaits = `console.log('up ' + process.env.WORKER_INSTANCE); setInterval(() => {}, 1000);`;
const honoursSigterm = `${printsAndWaits} process.on('SIGTERM', () => { console.log('draining'); setTimeout(() => process.exit(0), 50); });`;
const ignoresSigterm = `${printsAndWaits} process.on('SIGTERM', () => console.log('ignoring SIGTERM'));`;

async function untilLogged(file: string, text: string): Promise<void> {
  for (let i = 0; i < 200; i += 1) {
    try {
      if (readFileSync(file, 'utf8').includes(text)) return;
    } catch {
      // not created yet
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${file} never contained ${text}`);
}

describe('Supervisor', () => {
  it('runs a pod to completion and reports Succeeded with its output in the log file', async () => {
    const started: string[] = [];
    const supervisor = new Supervisor({ onStarted: (p) => started.push(p.name) });
    const log = path.join(dir, 'ok.log');
    const pod = supervisor.create('job', nodeScript('console.log("hello from " + process.env.WORKER_INSTANCE)', { logFile: log }));
    expect(pod.phase).toBe('Running');
    const done = await supervisor.wait(pod.name);
    expect(done).toMatchObject({ phase: 'Succeeded', exitCode: 0, ending: 'exited' });
    expect(readFileSync(log, 'utf8')).toContain(`hello from ${pod.name}`);
    expect(started).toEqual([pod.name]);
    expect(supervisor.counts('job')).toEqual({ pending: 0, running: 0, terminating: 0, unfinished: 0 });
  });

  it('a non-zero exit is Failed', async () => {
    const supervisor = new Supervisor();
    const pod = supervisor.create('job', nodeScript('process.exit(3)'));
    expect(await supervisor.wait(pod.name)).toMatchObject({ phase: 'Failed', exitCode: 3 });
  });

  it('delete sends SIGTERM and a pod that honours it ends within its grace', async () => {
    const supervisor = new Supervisor();
    const log = path.join(dir, 'term.log');
    const pod = supervisor.create('deploy', nodeScript(honoursSigterm, { logFile: log }));
    await untilLogged(log, 'up ');
    const done = await supervisor.delete(pod.name);
    expect(done).toMatchObject({ phase: 'Succeeded', ending: 'deleted', exitCode: 0 });
    expect(readFileSync(log, 'utf8')).toContain('draining');
  });

  it('delete escalates to SIGKILL when the grace period runs out', async () => {
    const supervisor = new Supervisor();
    const log = path.join(dir, 'kill.log');
    const pod = supervisor.create('deploy', nodeScript(ignoresSigterm, { logFile: log, terminationGraceMs: 300 }));
    await untilLogged(log, 'up ');
    const done = await supervisor.delete(pod.name);
    expect(done).toMatchObject({ phase: 'Failed', ending: 'killed', signal: 'SIGKILL' });
    expect(readFileSync(log, 'utf8')).toContain('ignoring SIGTERM');
  });

  it('kill is an immediate SIGKILL', async () => {
    const supervisor = new Supervisor();
    const log = path.join(dir, 'chaos.log');
    const pod = supervisor.create('deploy', nodeScript(honoursSigterm, { logFile: log }));
    await untilLogged(log, 'up ');
    expect(supervisor.kill(pod.name)).toBe(true);
    expect(await supervisor.wait(pod.name)).toMatchObject({ phase: 'Failed', signal: 'SIGKILL', ending: 'killed' });
    expect(readFileSync(log, 'utf8')).not.toContain('draining');
  });

  it('with a start delay the pod is Pending first, and deleting it then never starts a process', async () => {
    const supervisor = new Supervisor({ podStartDelayMs: 200 });
    const a = supervisor.create('job', nodeScript('0'));
    const b = supervisor.create('job', nodeScript('0'));
    expect(supervisor.counts('job')).toMatchObject({ pending: 2, running: 0 });
    expect(await supervisor.delete(b.name)).toMatchObject({ phase: 'Failed', ending: 'cancelled', pid: undefined });
    expect(await supervisor.wait(a.name)).toMatchObject({ phase: 'Succeeded' });
    expect(supervisor.get(a.name)!.startedAt! - a.createdAt).toBeGreaterThanOrEqual(150);
  });

  it('nodes of K pods: pods beyond the ready capacity wait for a new node', async () => {
    const supervisor = new Supervisor({ nodes: { podsPerNode: 2, provisionMs: 300, initialNodes: 1 } });
    const pods = [0, 1, 2, 3, 4].map(() => supervisor.create('deploy', nodeScript(printsAndWaits, { terminationGraceMs: 1000 })));
    expect(pods.map((p) => p.phase)).toEqual(['Running', 'Running', 'Pending', 'Pending', 'Pending']);
    expect(supervisor.nodes().map((n) => [n.ready, n.pods])).toEqual([
      [true, 2],
      [false, 2],
      [false, 1],
    ]);
    await new Promise((r) => setTimeout(r, 600));
    expect(supervisor.counts('deploy')).toMatchObject({ pending: 0, running: 5 });
    await supervisor.shutdown();
    expect(supervisor.counts('deploy').unfinished).toBe(0);
    expect(() => supervisor.create('deploy', nodeScript('0'))).toThrow(SupervisorError);
  });

  it('a deleted pod frees its node slot for the next one', async () => {
    const supervisor = new Supervisor({ nodes: { podsPerNode: 1, provisionMs: 60_000, initialNodes: 1 } });
    const first = supervisor.create('deploy', nodeScript(honoursSigterm));
    const second = supervisor.create('deploy', nodeScript('0'));
    expect(second.phase).toBe('Pending');
    await supervisor.delete(second.name);
    await supervisor.delete(first.name);
    const third = supervisor.create('deploy', nodeScript('0'));
    expect(third.phase).toBe('Running');
    await supervisor.wait(third.name);
    await supervisor.shutdown();
  });
});
