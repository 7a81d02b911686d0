/**
 * The eks runbook's own files, checked with the real tools where they exist here: the StorageClass
 * with check-manifests, the Prometheus scrape configuration with promtool, and the seed's query
 * against a private Debian Prometheus that scrapes two stand-in "web pods" through the values'
 * `nginx-svc` job (its Kubernetes discovery swapped for static loopback targets; the metric
 * relabelling kept). The eksctl ClusterConfig has no offline validator: its structure is asserted.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { REPO, RUNBOOKS } from './harness.ts';

/* eslint-disable @typescript-eslint/no-explicit-any -- YAML documents are untyped; the tests index into them */
const values = parse(readFileSync(path.join(RUNBOOKS, 'values/eks-prometheus.yaml'), 'utf8')) as any;
const scrapeConfigs = values.serverFiles['prometheus.yml'].scrape_configs as any[];
const rendered = spawnSync('kubectl', ['kustomize', path.join(REPO, 'deploy/kustomize/overlays/eks')], { encoding: 'utf8' });
const objects = parseAllDocuments(rendered.stdout).map((d) => d.toJS() as any);
const webScaledObject = objects.find((o) => o.kind === 'ScaledObject' && o.metadata.name === 'web');
const webService = objects.find((o) => o.kind === 'Service' && o.metadata.name === 'web');
const lib = readFileSync(path.join(RUNBOOKS, 'lib.sh'), 'utf8');
const libValue = (variable: string): string => new RegExp(`^${variable}=(\\S+)$`, 'm').exec(lib)?.[1] ?? '';

const cleanups: (() => void)[] = [];
afterAll(() => cleanups.forEach((c) => c()));

describe('eks runbook files', () => {
  it('the StorageClass passes check-manifests and is the EBS CSI default', () => {
    const file = path.join(RUNBOOKS, 'eks/storageclass-gp3.yaml');
    const check = spawnSync('npm', ['run', '--silent', 'check-manifests', '--', file], { cwd: REPO, encoding: 'utf8' });
    expect(check.status, check.stdout + check.stderr).toBe(0);
    const sc = parse(readFileSync(file, 'utf8'));
    expect(sc.provisioner).toBe('ebs.csi.aws.com');
    expect(sc.metadata.annotations['storageclass.kubernetes.io/is-default-class']).toBe('true');
  });

  it('the ClusterConfig template has the EBS CSI add-on with its IAM role, OIDC, and only prefix-derived names', () => {
    const text = readFileSync(path.join(RUNBOOKS, 'eks/cluster.yaml'), 'utf8');
    const config = parse(
      text
        .replaceAll('surge-sentinel-cluster', 'p1-eks')
        .replaceAll('surge-sentinel-region', 'eu-west-1')
        .replaceAll('surge-sentinel-prefix', 'p1'),
    );
    expect(JSON.stringify(config)).not.toContain('surge-sentinel-');
    expect(config).toMatchObject({
      apiVersion: 'eksctl.io/v1alpha5',
      kind: 'ClusterConfig',
      metadata: { name: 'p1-eks', region: 'eu-west-1' },
      iam: { withOIDC: true },
    });
    expect(config.addons).toContainEqual({ name: 'aws-ebs-csi-driver', wellKnownPolicies: { ebsCSIController: true } });
    expect(config.managedNodeGroups.length).toBeGreaterThan(0);
  });

  it('the prometheus trigger sends the seed query as written, to the Service the runbook installs', () => {
    expect(rendered.status, rendered.stderr).toBe(0);
    const metadata = webScaledObject.spec.triggers[0].metadata;
    expect(metadata.query).toBe('sum(nginx_connections_active{job="nginx-svc"})');
    expect(metadata.serverAddress).toBe(
      `http://${libValue('PROMETHEUS_SERVICE')}.${libValue('PROMETHEUS_NAMESPACE')}.svc.cluster.local:80`,
    );
    // the nginx-svc job keeps endpoints of Service web, port "metrics": both names must exist in the overlay
    const job = scrapeConfigs.find((j) => j.job_name === 'nginx-svc');
    const keep = job.relabel_configs.find((r: any) => r.action === 'keep');
    expect(keep.regex).toBe(`${webService.metadata.name};metrics`);
    expect(webService.spec.ports.map((p: any) => p.name)).toContain('metrics');
    expect(job.kubernetes_sd_configs[0].namespaces.names).toEqual([webService.metadata.namespace]);
  });

  it('the Prometheus scrape configuration passes promtool', () => {
    const found = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
    if (found.error) throw new Error('promtool is not installed: apt-get install prometheus (Debian package; CI installs it)');
    const dir = mkdtempSync(path.join(tmpdir(), 'surge-promtool-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'prometheus.yml');
    // Debian's Prometheus is built without Kubernetes discovery: promtool checks everything else of
    // each job (relabelling, metric relabelling, labels) with the discovery swapped for a static target
    const jobs = scrapeConfigs.map((job) => {
      if (!job.kubernetes_sd_configs) return job;
      const { kubernetes_sd_configs: _discovery, ...rest } = job;
      return { ...rest, static_configs: [{ targets: ['127.0.0.1:9113'] }] };
    });
    writeFileSync(file, stringify({ global: values.server.global, scrape_configs: jobs }));
    const check = spawnSync('promtool', ['check', 'config', file], { encoding: 'utf8' });
    expect(check.status, check.stdout + check.stderr).toBe(0);
    expect(scrapeConfigs.map((j) => j.job_name).sort()).toEqual(['kube-state-metrics', 'nginx-svc', 'prometheus', 'surge-exporter']);
  });

  it('a real Prometheus with the nginx-svc job answers the seed query with the sum over the web pods', async () => {
    const pods = await Promise.all([7, 5].map((active) => metricsServer(active)));
    cleanups.push(() => pods.forEach((p) => p.close()));
    const job = structuredClone(scrapeConfigs.find((j) => j.job_name === 'nginx-svc'));
    delete job.kubernetes_sd_configs;
    delete job.relabel_configs;
    job.static_configs = [{ targets: pods.map((p) => `127.0.0.1:${(p.address() as AddressInfo).port}`) }];
    const prometheus = await startPrometheus({ global: { scrape_interval: '1s', scrape_timeout: '1s' }, scrape_configs: [job] });
    cleanups.push(prometheus.stop);
    const query = webScaledObject.spec.triggers[0].metadata.query as string;
    const result = await prometheus.waitFor(query, (r) => r.length === 1 && r[0].value[1] === '12');
    expect(result[0].value[1]).toBe('12');
    // the sidecar's inert queue gauges are dropped by the job, so they cannot add to the real queue's sums
    expect(await prometheus.query('count(surge_queue_messages_ready)')).toEqual([]);
  }, 60_000);
});

/** A stand-in web pod's exporter sidecar: nginx_connections_active plus the sidecar's inert queue gauge. */
async function metricsServer(active: number): Promise<Server> {
  const server = createServer((_request, response) => {
    response.setHeader('content-type', 'text/plain; version=0.0.4');
    response.end(
      `# TYPE nginx_connections_active gauge\nnginx_connections_active ${active}\n# TYPE surge_queue_messages_ready gauge\nsurge_queue_messages_ready{queue="surge-work"} 0\n`,
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** The Debian prometheus binary on a loopback port with this configuration and a private TSDB. */
async function startPrometheus(
  config: object,
): Promise<{ query: (q: string) => Promise<any[]>; waitFor: (q: string, ok: (r: any[]) => boolean) => Promise<any[]>; stop: () => void }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'surge-prometheus-'));
  writeFileSync(path.join(dir, 'prometheus.yml'), stringify(config));
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address() as AddressInfo;
      probe.close(() => resolve(free));
    });
  });
  let child: ChildProcess;
  try {
    child = spawn(
      'prometheus',
      [
        `--config.file=${path.join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: 'ignore' },
    );
  } catch {
    throw new Error('prometheus is not installed: apt-get install prometheus (Debian package; only the binary is used)');
  }
  const stop = (): void => {
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
  const query = async (q: string): Promise<any[]> => {
    const response = await fetch(`http://127.0.0.1:${port}/api/v1/query?${new URLSearchParams({ query: q })}`);
    const body = (await response.json()) as any;
    if (body.status !== 'success') throw new Error(`${q}: ${body.error}`);
    return body.data.result;
  };
  const waitFor = async (q: string, ok: (r: any[]) => boolean): Promise<any[]> => {
    let last: unknown;
    for (let i = 0; i < 400; i++) {
      try {
        const result = await query(q);
        if (ok(result)) return result;
        last = result;
      } catch (error) {
        last = error;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`${q}: last answer ${JSON.stringify(last)}`);
  };
  return { query, waitFor, stop };
}
