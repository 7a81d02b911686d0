import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@surge/core';
import { REPO_ROOT, loadConfig, parseArgs } from './config.ts';

const NOW = new Date('2026-05-01T10:20:30.456Z');
const env = { INIT_CWD: '/work/x' };

describe('loadConfig', () => {
  it('demo is the default command, with documented defaults and everything in one run folder', () => {
    const config = loadConfig([], env, NOW);
    expect(config).toMatchObject({
      command: 'demo',
      count: 2000,
      rate: undefined,
      workMs: 100,
      mode: 'both',
      backend: 'embedded',
      hpaSyncSeconds: 15,
      jobBatch: 50,
      concurrency: 4,
      podStartDelayMs: 0,
      nodes: undefined,
      chaosKillEveryMs: 0,
      runDir: '/work/x/.surge/runs/2026-05-01T10-20-30Z',
      overlayDir: path.join(REPO_ROOT, 'deploy/kustomize/overlays/local'),
    });
    if (config.command !== 'demo') throw new Error('demo expected');
    expect(config.queue).toMatchObject({
      kind: 'embedded',
      queue: 'surge-work',
      dir: '/work/x/.surge/runs/2026-05-01T10-20-30Z/queue',
      leaseMs: 5000,
    });
    expect(config.results).toEqual({ kind: 'local', dir: '/work/x/.surge/runs/2026-05-01T10-20-30Z/results' });
    expect(config.childEnv).toMatchObject({ QUEUE_KIND: 'embedded', RESULTS_KIND: 'local' });
  });

  it('reads the flags (both --flag value and --flag=value)', () => {
    const config = loadConfig(
      [
        'demo',
        '--count=500',
        '--rate',
        '250',
        '--work-ms',
        '5',
        '--mode',
        'job',
        '--node-pods',
        '4',
        '--node-provision-seconds',
        '20',
        '--out',
        'runs/a',
      ],
      env,
      NOW,
    );
    expect(config).toMatchObject({
      count: 500,
      rate: 250,
      workMs: 5,
      mode: 'job',
      nodes: { podsPerNode: 4, provisionMs: 20_000, initialNodes: 0 },
      runDir: '/work/x/runs/a',
    });
  });

  it('rabbitmq takes the broker from the shared variables and never needs a queue folder', () => {
    const config = loadConfig(['--backend', 'rabbitmq'], { ...env, RABBITMQ_URL: 'amqp://u:p@127.0.0.1:5672/', QUEUE_NAME: 'q1' }, NOW);
    if (config.command !== 'demo') throw new Error('demo expected');
    expect(config.queue).toMatchObject({ kind: 'rabbitmq', queue: 'q1' });
    expect(config.childEnv).not.toHaveProperty('EMBEDDED_QUEUE_DIR');
    expect(() => loadConfig(['--backend', 'rabbitmq'], env, NOW)).toThrow(/RABBITMQ_URL/);
  });

  it('a bad flag is one line naming it', () => {
    expect(() => loadConfig(['--mode', 'daemonset'], env, NOW)).toThrow(
      new ConfigError('--mode', 'one of job, deployment, both', '"daemonset"'),
    );
    expect(() => loadConfig(['--count', '0'], env, NOW)).toThrow(/--count: expected an integer from 1/);
    expect(() => loadConfig(['--colour', 'red'], env, NOW)).toThrow(/--colour: expected one of the flags/);
    expect(() => loadConfig(['--node-pods', '3'], env, NOW)).toThrow(/--node-pods/);
    expect(() => loadConfig(['--rate', 'fast'], env, NOW)).toThrow(/--rate/);
    expect(() => parseArgs(['--count'])).toThrow(/--count: expected a value/);
  });

  it('report --from and report --prometheus', () => {
    expect(loadConfig(['report', '--from', 'runs/a'], env, NOW)).toEqual({
      command: 'report',
      from: '/work/x/runs/a',
      out: '/work/x/runs/a',
    });
    const prom = loadConfig(
      [
        'report',
        '--prometheus',
        'http://127.0.0.1:9090',
        '--start',
        'now-30m',
        '--end',
        '2026-05-01T10:20:00Z',
        '--namespace',
        'surge',
        '--queue',
        'surge-work',
        '--out',
        'r',
      ],
      { ...env, PROMETHEUS_BEARER_TOKEN: 't' },
      NOW,
    );
    expect(prom).toMatchObject({
      command: 'report-prometheus',
      start: NOW.getTime() - 30 * 60_000,
      end: Date.parse('2026-05-01T10:20:00Z'),
      namespace: 'surge',
      queue: 'surge-work',
      deployment: 'worker-deployment',
      scaledJob: 'worker-job',
      out: '/work/x/r',
      bearerToken: 't',
    });
    expect(() =>
      loadConfig(['report', '--prometheus', 'http://p', '--start', 'now', '--end', 'now-1m', '--namespace', 'a', '--queue', 'b'], env, NOW),
    ).toThrow(/--end/);
    expect(() => loadConfig(['report'], env, NOW)).toThrow(/--from/);
  });

  it('report --compare takes every file after it, repeated --label in order, and --out', () => {
    expect(
      loadConfig(
        ['report', '--compare', 'runs/a/report.json', 'runs/b', '--label', 'ScaledObject', '--label', 'ScaledJob', '--out', 'cmp'],
        env,
        NOW,
      ),
    ).toEqual({
      command: 'report-compare',
      files: ['/work/x/runs/a/report.json', '/work/x/runs/b'],
      labels: ['ScaledObject', 'ScaledJob'],
      out: '/work/x/cmp',
    });
    // repeated --compare works too; the default folder is under .surge/reports
    expect(loadConfig(['report', '--compare=a.json', '--compare', 'b.json', 'c.json'], env, NOW)).toMatchObject({
      files: ['/work/x/a.json', '/work/x/b.json', '/work/x/c.json'],
      labels: [],
      out: '/work/x/.surge/reports/compare-2026-05-01T10-20-30Z',
    });
    expect(() => loadConfig(['report', '--compare', 'a.json'], env, NOW)).toThrow(
      new ConfigError('--compare', 'two or more report.json files (or run folders) after it'),
    );
    expect(() => loadConfig(['report', '--compare', 'a.json', 'b.json', '--label', 'only-one'], env, NOW)).toThrow(
      /--label: expected one --label per compared run \(2\)/,
    );
    expect(() => loadConfig(['report', '--compare', 'a.json', 'b.json', '--namespace', 'surge'], env, NOW)).toThrow(
      /--namespace: expected one of the flags --compare, --label, --out/,
    );
    expect(() => loadConfig(['report', '--from', 'a', '--label', 'x'], env, NOW)).toThrow(/--label: expected to be given with --compare/);
  });

  it('report --prometheus selects one workload with --deployment none / --scaled-job none', () => {
    const base = ['report', '--prometheus', 'http://127.0.0.1:9090', '--start', 'now-30m', '--namespace', 'surge', '--queue', 'q'];
    expect(loadConfig([...base, '--deployment', 'none'], env, NOW)).toMatchObject({ deployment: null, scaledJob: 'worker-job' });
    expect(loadConfig([...base, '--scaled-job', 'none', '--deployment', 'web'], env, NOW)).toMatchObject({
      deployment: 'web',
      scaledJob: null,
    });
    expect(() => loadConfig([...base, '--scaled-job', 'none', '--deployment', 'none'], env, NOW)).toThrow(
      /--deployment: expected a Deployment name when --scaled-job is none/,
    );
    expect(() => loadConfig([...base, '--scaled-job', 'Worker_Job'], env, NOW)).toThrow(
      /--scaled-job: expected the ScaledJob name \(a Kubernetes object name\) or none, got "Worker_Job"/,
    );
  });
});
