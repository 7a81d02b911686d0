/**
 * Runbook script tests: shellcheck, every phase under --dry-run, and a flow test per script that runs
 * up, up again, load, report and down against recording stand-ins (./harness.ts, ./model.ts). They
 * check the scripts' flow — which commands in which order with which names — not the cloud: no
 * Azure or AWS API is involved, and a passing flow test says nothing about quotas, SKUs or IAM.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { REPO, RUNBOOKS, runScript, standinBin, startStandinServer, type ScriptRun } from './harness.ts';
import { FlowModel, MODEL_SECRETS } from './model.ts';
import { planCommands, planProblems } from './plan.ts';

/** The five scenarios of issue 13 and a prefix for each test run (not the scripts' defaults, so a hard-coded default shows). */
const SCENARIOS: { script: string; prefix: string; args?: string[] }[] = [
  { script: 'aks-spot.sh', prefix: 'flowspot1' },
  { script: 'aks-servicebus-compare.sh', prefix: 'flowsbc1' },
  { script: 'aks-keda-addon.sh', prefix: 'flowkeda1' },
  { script: 'eks.sh', prefix: 'floweks1', args: ['--region', 'us-east-2'] },
  { script: 'aks-virtual-node.sh', prefix: 'flowvn1' },
];
const PHASES = ['up', 'load', 'report', 'down'] as const;
const present = SCENARIOS.filter((s) => existsSync(path.join(RUNBOOKS, s.script)));
const scripts = readdirSync(RUNBOOKS)
  .filter((f) => f.endsWith('.sh') && f !== 'lib.sh')
  .sort();

/** Cloud resources: what must derive from the prefix and be gone after `down`. */
const isCloud = (type: string): boolean => /^(az|aws|eks):/.test(type);

/** kind/namespace/name of every object in a multi-document YAML, sorted. */
function objectNames(text: string): string[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as { kind?: string; metadata?: { name?: string; namespace?: string } } | null)
    .filter((o) => o?.kind)
    .map((o) => `${o!.kind}/${o!.metadata?.namespace ?? ''}/${o!.metadata?.name ?? ''}`)
    .sort();
}

function tail(run: ScriptRun): string {
  return `exit ${run.code}\n--- stdout (last 40 lines)\n${run.stdout.split('\n').slice(-40).join('\n')}\n--- stderr\n${run.stderr}`;
}

const bin = standinBin();
afterAll(() => rmSync(bin, { recursive: true, force: true }));

describe('runbook scripts (deploy/runbooks)', () => {
  it('has a script for each of the five scenarios', () => {
    const missing = SCENARIOS.filter((s) => !existsSync(path.join(RUNBOOKS, s.script))).map((s) => s.script);
    expect(missing, `missing runbook scripts: ${missing.join(', ')}`).toEqual([]);
  });

  it('is shellcheck-clean (shellcheck -x, every script and lib.sh)', () => {
    const found = spawnSync('shellcheck', ['--version'], { encoding: 'utf8' });
    if (found.error) throw new Error('shellcheck is not installed: apt-get install shellcheck (Debian package; CI installs it)');
    const files = [...scripts, 'lib.sh'].map((f) => path.join('deploy/runbooks', f));
    // from the repository root, where the scripts' `# shellcheck source=deploy/runbooks/lib.sh` resolves
    const result = spawnSync('shellcheck', ['-x', ...files], { cwd: REPO, encoding: 'utf8' });
    expect(result.stdout + result.stderr, 'shellcheck findings').toBe('');
    expect(result.status).toBe(0);
  });
});

describe.each(present)('$script --dry-run (a check of the printed plan, nothing runs)', ({ script, prefix, args = [] }) => {
  let model: FlowModel;
  let server: Awaited<ReturnType<typeof startStandinServer>>;
  let work: string;

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'surge-dry-run-'));
    model = new FlowModel();
    server = await startStandinServer((call) => model.handle(call), path.join(work, 'record.jsonl'));
  });
  afterAll(() => {
    server.server.close();
    rmSync(work, { recursive: true, force: true });
  });

  it.each(PHASES)('%s: exit 0, names first, every command filled in, no CLI called, nothing written', async (phase) => {
    const stateDir = path.join(work, `state-${phase}`);
    const run = await runScript(script, [phase, '--dry-run', '--prefix', prefix, ...args], {
      bin,
      port: server.port,
      record: path.join(work, 'record.jsonl'),
      env: { SURGE_STATE_DIR: stateDir },
    });
    expect(run.code, tail(run)).toBe(0);
    expect(
      model.events.map((e) => `${e.cli} ${e.argv.join(' ')}`),
      'stand-ins called under --dry-run',
    ).toEqual([]);
    expect(existsSync(stateDir), '--dry-run created the state dir').toBe(false);

    expect(planProblems(run.stdout, prefix)).toEqual([]);
    const commands = planCommands(run.stdout);
    if (phase === 'up') expect(commands.join('\n'), 'up prints its create commands').toMatch(/ create |upgrade --install/);
    if (phase === 'down') expect(commands.join('\n'), 'down prints its deletes').toMatch(/ delete /);
  });
});

describe.each(present)(
  '$script flow against recording stand-ins (checks the script flow, not the cloud)',
  ({ script, prefix, args = [] }) => {
    let model: FlowModel;
    let server: Awaited<ReturnType<typeof startStandinServer>>;
    let work: string;
    let stateDir: string;
    const runs = new Map<string, ScriptRun>();
    /** generated secrets (state dir) and the secret values the stand-ins hand out */
    const secrets = new Set<string>(MODEL_SECRETS);
    const order = ['up', 'up-again', 'load', 'report', 'down'] as const;

    beforeAll(async () => {
      work = mkdtempSync(path.join(tmpdir(), 'surge-flow-'));
      stateDir = path.join(work, 'state');
      model = new FlowModel();
      server = await startStandinServer((call) => model.handle(call), path.join(work, 'record.jsonl'));
      // the phases in order against one model: what `up` created is what `load`, `report` and `down` find
      for (const step of order) {
        model.phase = step;
        const phase = step === 'up-again' ? 'up' : step;
        const run = await runScript(script, [phase, '--prefix', prefix, ...args], {
          bin,
          port: server.port,
          record: path.join(work, 'record.jsonl'),
          env: { SURGE_STATE_DIR: stateDir, SURGE_TAG: 'flowtest' },
        });
        runs.set(step, run);
        const secretsDir = path.join(stateDir, 'secrets');
        if (existsSync(secretsDir))
          for (const file of readdirSync(secretsDir)) secrets.add(readFileSync(path.join(secretsDir, file), 'utf8').trim());
        if (run.code !== 0) break;
      }
    }, 180_000);
    afterAll(() => {
      server.server.close();
      rmSync(work, { recursive: true, force: true });
    });

    it.each(order)('%s exits 0', (step) => {
      const run = runs.get(step);
      expect(run, `${step} did not run: an earlier phase failed`).toBeDefined();
      expect(run?.code, tail(run as ScriptRun)).toBe(0);
    });

    it('refers only to resources created earlier in the run or declared as inputs, and models every command', () => {
      expect(model.violations).toEqual([]);
    });

    it('derives every cloud resource name from the prefix', () => {
      const cloud = model.events.flatMap((e) => e.refs).filter((r) => isCloud(r.type));
      expect(cloud.length, 'the script touched no cloud resource').toBeGreaterThan(0);
      expect(cloud.filter((r) => !r.key.includes(prefix)).map((r) => `${r.type} ${r.key}`)).toEqual([]);
    });

    it('applies exactly the manifest it rendered and checked, with every sentinel replaced', () => {
      const rendered = model.applied.filter((a) => a.file.startsWith(stateDir));
      expect(rendered.length, 'no rendered manifest was applied from the state dir').toBeGreaterThan(0);
      for (const { file, content } of rendered) {
        expect(model.checked.has(file), `${file} was applied without npm run check-manifests`).toBe(true);
        expect(model.checked.get(file) === content, `${file} changed between check-manifests and kubectl apply`).toBe(true);
        expect(content).not.toMatch(/surge-sentinel-/);
      }
      // the applied content passes the checks: run them once more on it, for real (down may have removed the file)
      const copy = path.join(work, 'applied.yaml');
      writeFileSync(copy, rendered[rendered.length - 1]!.content);
      const check = spawnSync('npm', ['run', '--silent', 'check-manifests', '--', copy], { cwd: REPO, encoding: 'utf8' });
      expect(check.status, check.stdout + check.stderr).toBe(0);
    });

    it('applies the objects kubectl kustomize renders from the overlay (nothing added or lost on the way)', () => {
      const render = model.events.find((e) => e.phase === 'up' && e.cli === 'kubectl' && e.argv[0] === 'kustomize');
      expect(render, 'up never ran kubectl kustomize').toBeDefined();
      const real = spawnSync('kubectl', render!.argv, { cwd: REPO, encoding: 'utf8' });
      expect(real.status, real.stderr).toBe(0);
      const applied = model.applied.filter((a) => a.file.startsWith(stateDir) && a.phase === 'up').pop();
      expect(applied, 'nothing applied from the state dir in up').toBeDefined();
      expect(objectNames(applied!.content)).toEqual(objectNames(real.stdout));
    });

    it('never prints a secret (generated tokens, connection strings, registry passwords)', () => {
      const values = [...secrets].filter((v) => v.length >= 8);
      expect(values.length, 'no secret was generated or handed out').toBeGreaterThan(0);
      for (const [step, run] of runs) {
        for (const value of values)
          expect(run.stdout.includes(value) || run.stderr.includes(value), `${step} printed a secret (${value.slice(0, 4)}…)`).toBe(false);
      }
    });

    it('creates nothing when up runs a second time (re-runnable)', () => {
      expect(runs.get('up-again')?.code, 'the second up did not succeed').toBe(0);
      const created = model.events
        .filter((e) => e.phase === 'up-again')
        .flatMap((e) =>
          e.refs.filter((r) => r.action === 'create').map((r) => `${e.cli} ${e.argv.join(' ')} → creates ${r.type} ${r.key}`),
        );
      expect(created).toEqual([]);
    });

    it('deletes in down every cloud resource up created', () => {
      expect(runs.get('down')?.code, 'down did not succeed').toBe(0);
      expect(
        model.events.some((e) => e.phase === 'up' && e.refs.some((r) => r.action === 'create' && isCloud(r.type))),
        'up created no cloud resource',
      ).toBe(true);
      const left = [...model.live.values()].filter((r) => isCloud(r.type)).map((r) => `${r.type} ${r.key} (created in ${r.phase})`);
      expect(left).toEqual([]);
    });
  },
);
