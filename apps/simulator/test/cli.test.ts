import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'simulate-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** As users run it: `npm run simulate -- …` from the repository root. */
function simulate(...args: string[]) {
  return spawnSync('npm', ['run', '--silent', 'simulate', '--', ...args], { cwd: root, encoding: 'utf8' });
}

describe('npm run simulate', () => {
  it('writes the four report files, byte-identical for the same seed', () => {
    const a = path.join(tmp, 'a');
    const b = path.join(tmp, 'b');
    const args = [
      '--overlay',
      'deploy/kustomize/overlays/aks-spot',
      '--profile',
      'aks-spot',
      '--count',
      '500',
      '--seed',
      '4',
      '--price-per-node-hour',
      '0.05',
    ];
    const first = simulate(...args, '--out', a);
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(/simulated 500 messages on aks-spot: .* lost 0/);
    expect(simulate(...args, '--out', b).status).toBe(0);
    expect(readdirSync(a).sort()).toEqual(['decisions.jsonl', 'report.html', 'report.json', 'timeline.csv']);
    for (const file of readdirSync(a)) expect(readFileSync(path.join(b, file), 'utf8')).toBe(readFileSync(path.join(a, file), 'utf8'));
    const report = JSON.parse(readFileSync(path.join(a, 'report.json'), 'utf8')) as {
      source: string;
      cluster: { profile: string; modelled: boolean; cost: { total: number } };
    };
    expect(report.source).toBe('simulator');
    expect(report.cluster.profile).toBe('aks-spot');
    expect(report.cluster.modelled).toBe(true);
    expect(report.cluster.cost.total).toBeGreaterThan(0);
    expect(readFileSync(path.join(a, 'report.html'), 'utf8')).toContain('modelled by the simulator');
  });

  it('simulates an overlay whose only KEDA object is a ScaledObject, back to zero with nothing lost', () => {
    const out = path.join(tmp, 'so');
    const r = simulate(
      '--overlay',
      'deploy/kustomize/overlays/aks-keda-addon',
      '--profile',
      'aks-keda-addon',
      '--count',
      '300',
      '--seed',
      '2',
      '--out',
      out,
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/simulated 300 messages on aks-keda-addon: .*back to zero \d+(\.\d+)? s.* lost 0/);
    const decisions = readFileSync(path.join(out, 'decisions.jsonl'), 'utf8');
    expect(decisions).toContain('"kind":"hpa-sync"');
  });

  it('fails in one line with exit 2 on an unknown profile key', () => {
    const r = simulate(
      '--overlay',
      'deploy/kustomize/overlays/aks-spot',
      '--profile',
      'aks-spot',
      '--set',
      'nodePool.maxCuont=3',
      '--out',
      path.join(tmp, 'x'),
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('simulate: --set nodePool.maxCuont=3: unknown profile key nodePool.maxCuont\n');
  });

  it('fails in one line with exit 2 on an overlay without a KEDA object', () => {
    const dir = path.join(tmp, 'no-keda');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'kustomization.yaml'), 'resources: [cm.yaml]\n');
    writeFileSync(path.join(dir, 'cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: x }\ndata: { a: b }\n');
    const r = simulate('--overlay', dir, '--profile', 'aks-spot', '--out', path.join(tmp, 'y'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^simulate: .*declares no KEDA object \(no ScaledJob or ScaledObject\)\n$/);
  });

  it('fails in one line with exit 2 on a pod that no node can hold, naming the resource and the excess', () => {
    const r = simulate(
      '--overlay',
      'deploy/kustomize/overlays/aks-spot',
      '--profile',
      'aks-spot',
      '--set',
      'nodePool.vmSize=Standard_D2s_v3',
      '--out',
      path.join(tmp, 'z'),
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /^simulate: pod of ScaledJob\/worker-job requests \d+m CPU, \d+m more than a Standard_D2s_v3 node's allocatable \d+m \(after daemonsets\)\n$/,
    );
  });
});
