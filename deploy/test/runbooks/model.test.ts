/**
 * The flow checks can fail: small scripts that make each mistake once, run against the same
 * recording stand-ins and model as the runbooks' flow tests (a check of the flow model, not the cloud).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScript, standinBin, startStandinServer } from './harness.ts';
import { FlowModel } from './model.ts';
import { planProblems } from './plan.ts';

let bin: string;
let work: string;
let model: FlowModel;
let server: Awaited<ReturnType<typeof startStandinServer>>;

beforeAll(async () => {
  bin = standinBin();
  work = mkdtempSync(path.join(tmpdir(), 'surge-model-'));
  server = await startStandinServer((call) => model.handle(call), path.join(work, 'record.jsonl'));
});
afterAll(() => {
  server.server.close();
  rmSync(bin, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

/** Runs a bash snippet with the stand-ins on PATH against a fresh model. */
async function flow(body: string): Promise<{ stdout: string; stderr: string; model: FlowModel }> {
  model = new FlowModel();
  model.phase = 'test';
  const script = path.join(work, `flow-${Math.random().toString(36).slice(2)}.sh`);
  writeFileSync(script, `set -u\n${body}\n`);
  const run = await runScript(script, [], { bin, port: server.port, record: path.join(work, 'record.jsonl') });
  return { stdout: run.stdout, stderr: run.stderr, model };
}

describe('flow model behind the recording stand-ins (checks the flow model, not the cloud)', () => {
  it('answers a show with not-found until the resource is created, then with canned JSON', async () => {
    const { stdout, model } = await flow(
      'az group show -n rg1; echo "rc=$?"; az group create -n rg1 -l westeurope >/dev/null; az group show -n rg1; echo "rc=$?"',
    );
    expect(stdout).toMatch(/^rc=3\n/);
    expect(stdout).toMatch(/"name":"rg1"[^\n]*\nrc=0/);
    expect(model.violations).toEqual([]);
  });

  it('flags a create of something that exists (no show before the create)', async () => {
    const { model } = await flow('az group create -n rg1 -l westeurope; az group create -n rg1 -l westeurope');
    expect(model.violations.join('\n')).toMatch(/creates az:group rg1 a second time/);
  });

  it('flags a command that refers to a resource never created', async () => {
    const { model } = await flow('az group create -n rg1 -l westeurope; az aks get-credentials -g rg1 -n missing --file /dev/null');
    expect(model.violations.join('\n')).toMatch(/refers to az:aks rg1\/missing, which was not created earlier/);
  });

  it('fails a command the model does not know, so the table cannot drift silently', async () => {
    const { stdout, model } = await flow('az aks frobnicate -g rg1 -n c1; echo "rc=$?"');
    expect(stdout).toContain('rc=2');
    expect(model.violations.join('\n')).toMatch(/unmodelled command .*az aks frobnicate/);
  });

  it('deletes what a resource group contains with the group', async () => {
    const { model } = await flow('az group create -n rg1 -l x; az acr create -g rg1 -n acr1 --sku Premium; az group delete -n rg1 --yes');
    expect(model.violations).toEqual([]);
    expect([...model.live.keys()]).toEqual([]);
  });

  it('flags kubectl before any cluster credentials, an unpinned chart and a docker password on argv', async () => {
    const { model } = await flow(
      'kubectl get namespace surge; aws eks update-kubeconfig --name nope --region eu-west-1; helm upgrade --install keda keda --repo https://kedacore.github.io/charts -n keda --create-namespace; docker login --username AWS -p secret registry.example',
    );
    const all = model.violations.join('\n');
    expect(all).toMatch(/before any cluster's credentials/);
    expect(all).toMatch(/refers to eks:cluster eu-west-1\/nope/);
    expect(all).toMatch(/chart keda is not pinned/);
    expect(all).toMatch(/password must come on stdin/);
  });

  it('passes kubectl kustomize through to the real kubectl', async () => {
    const { stdout, model } = await flow('kubectl kustomize deploy/kustomize/overlays/eks | grep -c "^kind: ScaledObject"');
    expect(stdout.trim()).toBe('2');
    expect(model.violations).toEqual([]);
  });
});

describe('plan checks of --dry-run output', () => {
  const header = '# scenario x (seed 000), phase up\n# prefix pfx1\n#   RG=pfx1-rg\n';
  it('accepts a plan with the names first and every value filled in', () => {
    expect(planProblems(`${header}+ az group create -n pfx1-rg -l westeurope\n`, 'pfx1')).toEqual([]);
  });
  it('flags an empty value, an unexpanded variable and a missing prefix line', () => {
    expect(planProblems(`${header}+ az group create -n '' -l westeurope\n`, 'pfx1').join('\n')).toMatch(/empty value/);
    expect(planProblems(`${header}+ az group create --name= -l x\n`, 'pfx1').join('\n')).toMatch(/empty value/);
    expect(planProblems(`${header}+ az group create -n $RG\n`, 'pfx1').join('\n')).toMatch(/unexpanded shell variable/);
    expect(planProblems('+ az group create -n pfx1-rg\n# prefix pfx1\n', 'pfx1').join('\n')).toMatch(
      /not printed before the first command/,
    );
  });
});
