/* eslint-disable @typescript-eslint/no-explicit-any -- rendered manifests are untyped YAML; the tests index into them directly */
// `npm run check-manifests` as a user runs it: a real process on files. Each fixture is a rendered
// overlay (sentinels replaced, as a runbook leaves it) with one of issue 13's confirmed mistakes
// written into it; the clean render must pass.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import {
  KUSTOMIZE_ROOT,
  REPO_ROOT,
  dummyValue,
  loadSentinels,
  parseManifests,
  renderKustomizationText,
  replaceSentinels,
} from '../src/index.ts';

const exec = promisify(execFile);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `npm run --silent check-manifests -- ARGS` from the repository root, optionally with stdin. */
function checkManifests(args: string[], stdin?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      'npm',
      ['run', '--silent', 'check-manifests', '--', ...args],
      { cwd: REPO_ROOT, env: { ...process.env, INIT_CWD: REPO_ROOT } },
      (error, stdout, stderr) => resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    if (stdin !== undefined) child.stdin?.end(stdin);
    else child.stdin?.end();
  });
}

let dir = '';
const clean = new Map<string, Record<string, any>[]>();
const toYaml = (objects: Record<string, any>[]) => objects.map((o) => stringify(o)).join('---\n');
const pick = (objects: Record<string, any>[], kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata.name === name)!;

/** Writes the named overlay's clean render, edited by `mutate`, to a fixture file; returns its path. */
async function fixture(name: string, overlay: string, mutate: (objects: Record<string, any>[]) => void): Promise<string> {
  const objects = structuredClone(clean.get(overlay)!);
  mutate(objects);
  const file = path.join(dir, `${name}.yaml`);
  await writeFile(file, toYaml(objects));
  return file;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'surge-check-manifests-'));
  for (const overlay of ['eks', 'aks-spot']) {
    const root = path.join(KUSTOMIZE_ROOT, 'overlays', overlay);
    const values = new Map(((await loadSentinels(root)) ?? []).map((s, i) => [s.token, dummyValue(s.variable, i)]));
    clean.set(overlay, parseManifests(replaceSentinels(await renderKustomizationText(root), values)) as Record<string, any>[]);
  }
  // prove the npm script resolves at all before the cases rely on its exit codes
  await exec('npm', ['run', '--silent', 'check-manifests', '--', '--help'], { cwd: REPO_ROOT });
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('npm run check-manifests', () => {
  it('passes a clean rendered overlay with one summary line, from a file and from stdin', async () => {
    const file = await fixture('clean', 'eks', () => {});
    const run = await checkManifests([file]);
    expect(run.code).toBe(0);
    expect(run.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(/^check-manifests: \d+ objects in 1 file\(s\) pass \(Kubernetes 1\.36 schemas, KEDA v2\.20/),
    ]);
    const piped = await checkManifests(['-'], toYaml(clean.get('aks-spot')!));
    expect(piped.code).toBe(0);
  });

  // each case: the fixture, and the line (file, object, field, rule) that must be printed for it
  const cases: [string, string, (objects: Record<string, any>[]) => void, string][] = [
    [
      'readOnlyRootFileSystem',
      'eks',
      (o) => {
        const sc = pick(o, 'Deployment', 'producer').spec.template.spec.containers[0].securityContext;
        delete sc.readOnlyRootFilesystem;
        sc.readOnlyRootFileSystem = true;
      },
      'Deployment/surge/producer spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem: [k8s-unknown-field]',
    ],
    [
      'queueNme',
      'aks-spot',
      (o) => {
        const meta = pick(o, 'ScaledJob', 'worker-job').spec.triggers[0].metadata;
        meta.queueNme = meta.queueName;
        delete meta.queueName;
      },
      'ScaledJob/surge/worker-job spec.triggers[0].metadata.queueNme: [trigger-metadata-known]',
    ],
    [
      'mesageCount',
      'aks-spot',
      (o) => {
        const meta = pick(o, 'ScaledJob', 'worker-job').spec.triggers[0].metadata;
        meta.mesageCount = meta.messageCount;
        delete meta.messageCount;
      },
      'ScaledJob/surge/worker-job spec.triggers[0].metadata.mesageCount: [trigger-metadata-known]',
    ],
    [
      'triggerauth-parameter-typo',
      'aks-spot',
      (o) => {
        o.find((x) => x.kind === 'TriggerAuthentication')!.spec.secretTargetRef[0].parameter = 'conection';
      },
      'spec.secretTargetRef[0].parameter: [trigger-auth-parameter]',
    ],
    [
      'probe-undeclared-port',
      'eks',
      (o) => {
        pick(o, 'Deployment', 'producer').spec.template.spec.containers[0].readinessProbe.httpGet.port = 'htttp';
      },
      'Deployment/surge/producer spec.template.spec.containers[0].readinessProbe.httpGet.port: [probe-port-declared]',
    ],
    [
      'sentinel-left',
      'eks',
      (o) => {
        pick(o, 'Deployment', 'producer').spec.template.spec.containers[0].image = 'surge-sentinel-registry/surge/producer:0.1.0';
      },
      'Deployment/surge/producer spec.template.spec.containers[0].image: [sentinel-replaced] "surge-sentinel-registry"',
    ],
  ];

  it.each(cases)('reports %s with file, object, field and rule, and exits 1', async (name, overlay, mutate, line) => {
    const file = await fixture(name, overlay, mutate);
    const run = await checkManifests([file]);
    expect(run.code).toBe(1);
    const lines = run.stdout.trim().split('\n');
    expect(
      lines.some((l) => l.startsWith(`${file}: `) && l.includes(line)),
      `no line with ${line} in:\n${run.stdout}`,
    ).toBe(true);
    expect(run.stderr).toMatch(/^check-manifests: \d+ problem\(s\) in \d+ object\(s\)\n$/);
  });

  it('checks several files as one input and names the file of each problem', async () => {
    const objects = clean.get('eks')!;
    const services = path.join(dir, 'services.yaml');
    const rest = path.join(dir, 'rest.yaml');
    const broken = structuredClone(objects.filter((o) => o.kind === 'Service'));
    pick(broken, 'Service', 'producer').spec.ports[0].targetPort = 'nope';
    await writeFile(services, toYaml(broken));
    await writeFile(rest, toYaml(objects.filter((o) => o.kind !== 'Service')));
    const run = await checkManifests([rest, services]);
    expect(run.code).toBe(1);
    expect(run.stdout.trim().split('\n')).toEqual([
      `${services}: Service/surge/producer spec.ports[0].targetPort: [service-target-port-declared] targets named port "nope"/TCP, which no container of Deployment/surge/producer declares (declared: http=8080)`,
    ]);
  });

  it('exits 2 with one line on no file, an unreadable file, invalid YAML or a document that is no object', async () => {
    const none = await checkManifests([]);
    expect([none.code, none.stderr.trim().split('\n').length, none.stderr]).toEqual([2, 1, expect.stringContaining('no file given')]);
    const missing = await checkManifests([path.join(dir, 'absent.yaml')]);
    expect([missing.code, missing.stderr.trim().split('\n').length, missing.stderr]).toEqual([
      2,
      1,
      expect.stringContaining('cannot read'),
    ]);
    const invalid = await checkManifests(['-'], 'a: [\n');
    expect([invalid.code, invalid.stderr.trim().split('\n').length]).toEqual([2, 1]);
    const scalar = await checkManifests(['-'], 'just a string\n');
    expect([scalar.code, scalar.stderr.trim()]).toEqual([2, 'check-manifests: <stdin>: a document is not an object']);
    expect(none.stdout + missing.stdout + invalid.stdout + scalar.stdout).toBe('');
  });
});
