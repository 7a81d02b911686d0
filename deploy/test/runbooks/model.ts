/**
 * The resource model behind the recording stand-ins: a table of command patterns per CLI, each
 * mapped to what the command does to which resource (create | apply | use | probe | update | delete,
 * resource type, name). The model keeps what exists, answers reads with canned JSON or a plausible
 * single value, and collects every flow violation (a reference to something never created, a second
 * create, an unmodelled command). It checks the script's flow, not the cloud: nothing here knows
 * whether Azure or AWS would accept the values.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { Answer, Call } from './harness.ts';

export type Action = 'create' | 'apply' | 'use' | 'probe' | 'update' | 'delete';

export interface Ref {
  readonly action: Action;
  /** `az:group`, `aws:ecr-repository`, `k8s:Secret`, `helm:release`, `local:image`… */
  readonly type: string;
  /** unique within the type: `<rg>/<name>`, `<cluster>/<namespace>/<name>`… */
  readonly key: string;
  /** the name as the user gave it (what must derive from the prefix) */
  readonly name: string;
  /** Azure resource group that contains it (deleted with the group) */
  readonly group?: string;
  /** cluster that contains it (deleted with the cluster) */
  readonly cluster?: string;
  /** Kubernetes namespace that contains it (deleted with the namespace) */
  readonly namespace?: string;
  /** a delete that tolerates absence (--ignore-not-found) */
  readonly optional?: boolean;
}

export interface Resource extends Ref {
  readonly phase: string;
}

export interface FlowEvent {
  readonly phase: string;
  readonly cli: string;
  readonly argv: readonly string[];
  readonly refs: readonly Ref[];
  readonly code: number;
}

/** Kinds whose objects are not namespaced. */
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'StorageClass',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'PersistentVolume',
  'PriorityClass',
  'ClusterTriggerAuthentication',
]);

const KIND_ALIASES: Record<string, string> = {
  ns: 'Namespace',
  namespace: 'Namespace',
  namespaces: 'Namespace',
  secret: 'Secret',
  secrets: 'Secret',
  sc: 'StorageClass',
  storageclass: 'StorageClass',
  storageclasses: 'StorageClass',
  deploy: 'Deployment',
  deployment: 'Deployment',
  deployments: 'Deployment',
  sts: 'StatefulSet',
  statefulset: 'StatefulSet',
  statefulsets: 'StatefulSet',
  svc: 'Service',
  service: 'Service',
  services: 'Service',
  scaledobject: 'ScaledObject',
  scaledobjects: 'ScaledObject',
  so: 'ScaledObject',
  scaledjob: 'ScaledJob',
  scaledjobs: 'ScaledJob',
  sj: 'ScaledJob',
  configmap: 'ConfigMap',
  configmaps: 'ConfigMap',
  cm: 'ConfigMap',
  serviceaccount: 'ServiceAccount',
  serviceaccounts: 'ServiceAccount',
  sa: 'ServiceAccount',
  pv: 'PersistentVolume',
  persistentvolume: 'PersistentVolume',
  persistentvolumes: 'PersistentVolume',
  pvc: 'PersistentVolumeClaim',
  persistentvolumeclaim: 'PersistentVolumeClaim',
  persistentvolumeclaims: 'PersistentVolumeClaim',
  pod: 'Pod',
  pods: 'Pod',
  job: 'Job',
  jobs: 'Job',
  node: 'Node',
  nodes: 'Node',
  triggerauthentication: 'TriggerAuthentication',
  triggerauthentications: 'TriggerAuthentication',
  crd: 'CustomResourceDefinition',
  crds: 'CustomResourceDefinition',
  customresourcedefinition: 'CustomResourceDefinition',
};

/** What a chart's release creates that scripts refer to afterwards (kubectl rollout status, port-forward…). */
const CHART_OBJECTS: Record<string, { kind: string; name: string }[]> = {
  keda: [
    { kind: 'Deployment', name: 'keda-operator' },
    { kind: 'Deployment', name: 'keda-operator-metrics-apiserver' },
    { kind: 'Deployment', name: 'keda-admission-webhooks' },
    { kind: 'ServiceAccount', name: 'keda-operator' },
  ],
  prometheus: [
    { kind: 'Deployment', name: 'prometheus-server' },
    { kind: 'Service', name: 'prometheus-server' },
    { kind: 'Deployment', name: 'prometheus-kube-state-metrics' },
    { kind: 'Service', name: 'prometheus-kube-state-metrics' },
  ],
};

/** Exit code and message of a not-found read, per CLI (what the scripts' `ensure` sees). */
const NOT_FOUND: Record<string, { code: number; message: (what: string) => string }> = {
  az: { code: 3, message: (what) => `ERROR: (ResourceNotFound) The Resource '${what}' was not found.\n` },
  kubectl: { code: 1, message: (what) => `Error from server (NotFound): ${what} not found\n` },
  helm: { code: 1, message: (what) => `Error: release: not found (${what})\n` },
  eksctl: { code: 1, message: (what) => `Error: ${what} not found\n` },
  aws: { code: 254, message: (what) => `An error occurred (ResourceNotFoundException): ${what} does not exist\n` },
  docker: { code: 1, message: (what) => `Error response from daemon: No such image: ${what}\n` },
  npx: { code: 1, message: (what) => `${what} not found\n` },
};

export const ACCOUNT = '123456789012';
const SECRET_KEY = 'c3RhbmQtaW4ta2V5LWRvLW5vdC1wcmludA';
const ECR_PASSWORD = 'stand-in-ecr-password-do-not-print';
const PULL_PASSWORD = 'c3RhbmQtaW4tcHVsbC1wYXNzd29yZA';
/** Secret values the stand-ins hand out: a script must never print them. */
export const MODEL_SECRETS: readonly string[] = [SECRET_KEY, ECR_PASSWORD, PULL_PASSWORD];

class Unmodelled extends Error {}

/** `--name X`, `--name=X`, `-n X` → X (the last occurrence). */
function option(argv: readonly string[], ...names: string[]): string | undefined {
  let found: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    for (const name of names) {
      if (arg === name && i + 1 < argv.length) found = argv[i + 1];
      else if (arg.startsWith(`${name}=`)) found = arg.slice(name.length + 1);
    }
  }
  return found;
}

function options(argv: readonly string[], name: string): string[] {
  const found: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === name && i + 1 < argv.length) found.push(argv[i + 1] as string);
    else if ((argv[i] as string).startsWith(`${name}=`)) found.push((argv[i] as string).slice(name.length + 1));
  }
  return found;
}

function has(argv: readonly string[], flag: string): boolean {
  return argv.some((arg) => arg === flag || arg.startsWith(`${flag}=`));
}

/** The words before the first option: `az servicebus queue create -g …` → servicebus queue create. */
function words(argv: readonly string[], valueFlags: ReadonlySet<string> = new Set()): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') break;
    if (arg.startsWith('-')) {
      if (valueFlags.has(arg)) i++;
      continue;
    }
    out.push(arg);
  }
  return out;
}

function required(value: string | undefined, what: string, call: Call): string {
  if (value === undefined || value === '') throw new Unmodelled(`${call.cli} ${call.argv.join(' ')}: no ${what}`);
  return value;
}

function uuid(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export class FlowModel {
  readonly live = new Map<string, Resource>();
  readonly events: FlowEvent[] = [];
  readonly violations: string[] = [];
  /** files given to `npm run check-manifests`, with their content at that moment */
  readonly checked = new Map<string, string>();
  /** files given to `kubectl apply -f`, with their content at that moment */
  readonly applied: { file: string; content: string; phase: string }[] = [];
  phase = 'none';
  private currentCluster: string | undefined;
  private readonly builtImages = new Set<string>();
  private readonly localImages = new Set<string>();
  /** AKS add-ons per cluster key (`--enable-keda`, `--enable-addons …`) */
  private readonly aksAddons = new Map<string, Set<string>>();

  private id(type: string, key: string): string {
    return `${type}|${key}`;
  }

  exists(type: string, key: string): boolean {
    return this.live.has(this.id(type, key));
  }

  private add(ref: Ref): void {
    this.live.set(this.id(ref.type, ref.key), { ...ref, phase: this.phase });
  }

  /** Removes a resource and everything it contains (group, cluster, namespace). */
  private remove(ref: Ref): void {
    this.live.delete(this.id(ref.type, ref.key));
    for (const [id, resource] of this.live) {
      const inGroup = ref.type === 'az:group' && resource.group === ref.name;
      const inCluster = (ref.type === 'eks:cluster' || ref.type === 'az:aks') && resource.cluster === ref.key;
      const inNamespace =
        ref.type === 'k8s:Namespace' &&
        resource.namespace !== undefined &&
        resource.cluster !== undefined &&
        `${resource.cluster}/${resource.namespace}` === ref.key;
      if (inGroup || inCluster || inNamespace) this.live.delete(id);
    }
  }

  handle(call: Call): Answer {
    let refs: Ref[] = [];
    let answer: Answer;
    try {
      const interpreted = this.interpret(call);
      refs = interpreted.refs;
      answer = this.settle(call, refs) ?? interpreted.answer();
    } catch (error) {
      if (!(error instanceof Unmodelled)) throw error;
      this.violations.push(
        `[${this.phase}] unmodelled command (add it to the model's table): ${call.cli} ${call.argv.join(' ')} — ${error.message}`,
      );
      answer = { code: 2, stderr: `flow-test model: unmodelled command ${call.cli} ${call.argv.join(' ')}\n` };
    }
    this.events.push({ phase: this.phase, cli: call.cli, argv: call.argv, refs, code: answer.code });
    return answer;
  }

  /** Applies the refs to the state; returns an error answer when the command would fail. */
  private settle(call: Call, refs: Ref[]): Answer | undefined {
    const notFound = NOT_FOUND[call.cli] ?? { code: 1, message: (what: string) => `${what} not found\n` };
    for (const ref of refs) {
      const present = this.exists(ref.type, ref.key);
      switch (ref.action) {
        case 'probe':
          if (!present) return { code: notFound.code, stderr: notFound.message(`${ref.type} ${ref.key}`) };
          break;
        case 'use':
        case 'update':
          if (!present) {
            this.violations.push(
              `[${this.phase}] ${call.cli} ${call.argv.join(' ')}: refers to ${ref.type} ${ref.key}, which was not created earlier and is not an input`,
            );
            return { code: notFound.code, stderr: notFound.message(`${ref.type} ${ref.key}`) };
          }
          break;
        case 'create':
          if (present) {
            this.violations.push(
              `[${this.phase}] ${call.cli} ${call.argv.join(' ')}: creates ${ref.type} ${ref.key} a second time (no show/get before the create)`,
            );
            return { code: 1, stderr: `AlreadyExists: ${ref.type} ${ref.key}\n` };
          }
          this.add(ref);
          break;
        case 'apply':
          this.add(ref);
          break;
        case 'delete':
          if (!present) {
            if (ref.optional) break;
            this.violations.push(
              `[${this.phase}] ${call.cli} ${call.argv.join(' ')}: deletes ${ref.type} ${ref.key}, which does not exist`,
            );
            return { code: notFound.code, stderr: notFound.message(`${ref.type} ${ref.key}`) };
          }
          this.remove(ref);
          break;
      }
    }
    return undefined;
  }

  private interpret(call: Call): { refs: Ref[]; answer: () => Answer } {
    switch (call.cli) {
      case 'az':
        return this.az(call);
      case 'kubectl':
        return this.kubectl(call);
      case 'helm':
        return this.helm(call);
      case 'eksctl':
        return this.eksctl(call);
      case 'aws':
        return this.aws(call);
      case 'docker':
        return this.docker(call);
      case 'npm':
      case 'npx':
        return this.node(call);
      case 'curl':
        return this.curl(call);
      default:
        throw new Unmodelled('not a stood-in CLI');
    }
  }

  // ---- Kubernetes objects --------------------------------------------------------------------------

  private cluster(call: Call): string {
    if (this.currentCluster === undefined) {
      this.violations.push(
        `[${this.phase}] ${call.cli} ${call.argv.join(' ')}: talks to a cluster before any cluster's credentials were fetched`,
      );
      return '(no cluster)';
    }
    return this.currentCluster;
  }

  private k8s(action: Action, cluster: string, kind: string, name: string, namespace: string | undefined, optional = false): Ref[] {
    const scoped = CLUSTER_SCOPED.has(kind);
    const ns = scoped ? undefined : (namespace ?? 'default');
    const ref: Ref = {
      action,
      type: `k8s:${kind}`,
      key: scoped ? `${cluster}/${name}` : `${cluster}/${ns}/${name}`,
      name,
      cluster,
      ...(ns ? { namespace: ns } : {}),
      optional,
    };
    // a namespaced object needs its namespace (unless the object is being deleted with it)
    const needs: Ref[] =
      ns && action !== 'delete' ? [{ action: 'use', type: 'k8s:Namespace', key: `${cluster}/${ns}`, name: ns, cluster }] : [];
    return [...needs, ref];
  }

  /** Objects created with a cluster: the namespaces and storage EKS/AKS ship. */
  private clusterBuiltins(cluster: string, storageClass: string): void {
    for (const ns of ['default', 'kube-system', 'kube-public', 'kube-node-lease'])
      this.add({ action: 'create', type: 'k8s:Namespace', key: `${cluster}/${ns}`, name: ns, cluster });
    this.add({ action: 'create', type: 'k8s:StorageClass', key: `${cluster}/${storageClass}`, name: storageClass, cluster });
  }

  private manifestRefs(call: Call, text: string, cluster: string, namespace: string | undefined, action: Action): Ref[] {
    const refs: Ref[] = [];
    const namespacesHere = new Set<string>();
    const docs = parseAllDocuments(text).map(
      (doc) => doc.toJS() as { kind?: string; metadata?: { name?: string; namespace?: string } } | null,
    );
    for (const doc of docs) if (doc?.kind === 'Namespace' && doc.metadata?.name) namespacesHere.add(doc.metadata.name);
    for (const doc of docs) {
      if (!doc?.kind || !doc.metadata?.name) continue;
      const ns = doc.metadata.namespace ?? namespace;
      const objectRefs = this.k8s(action, cluster, doc.kind, doc.metadata.name, ns);
      // a Namespace in the same file is created before the objects in it
      refs.push(...objectRefs.filter((ref) => !(ref.type === 'k8s:Namespace' && ref.action === 'use' && namespacesHere.has(ref.name))));
    }
    if (refs.length === 0) throw new Unmodelled(`${call.argv.join(' ')}: no objects in the manifest`);
    // namespaces first, so the objects in them find them
    return refs.sort((a, b) => Number(b.type === 'k8s:Namespace') - Number(a.type === 'k8s:Namespace'));
  }

  private kubectl(call: Call): { refs: Ref[]; answer: () => Answer } {
    const argv = call.argv;
    const verbs = words(
      argv,
      new Set([
        '-n',
        '--namespace',
        '-o',
        '--output',
        '-f',
        '--filename',
        '-l',
        '--selector',
        '--for',
        '--timeout',
        '--context',
        '--kubeconfig',
        '--address',
        '--field-manager',
        '--type',
        '-p',
        '--patch',
        '--from-literal',
        '--from-file',
        '--docker-server',
        '--docker-username',
        '--docker-password',
        '--docker-email',
      ]),
    );
    const verb = verbs[0];
    const ns = option(argv, '-n', '--namespace');
    const ok =
      (stdout = ''): (() => Answer) =>
      () => ({ code: 0, stdout });
    if (verb === 'kustomize') return { refs: [], answer: () => ({ code: 0, pass: true }) };
    if (verb === 'version' || verb === 'cluster-info' || (verb === 'config' && verbs[1] === 'current-context'))
      return { refs: [], answer: ok('stand-in\n') };
    const cluster = this.cluster(call);
    const kindName = (): { kind: string; name: string | undefined } => {
      const target = required(verbs[1], 'resource', call);
      if (target.includes('/')) {
        const [kind, name] = target.split('/') as [string, string];
        return { kind: KIND_ALIASES[kind.toLowerCase()] ?? kind, name };
      }
      const kind = KIND_ALIASES[target.toLowerCase()];
      if (!kind) throw new Unmodelled(`unknown kind ${target}`);
      return { kind, name: verbs[2] };
    };
    switch (verb) {
      case 'apply': {
        const file = required(option(argv, '-f', '--filename'), '-f FILE (the contract applies a rendered file, not -k)', call);
        const text = file === '-' ? call.stdin : readFileSync(path.resolve(call.cwd, file), 'utf8');
        if (file !== '-') this.applied.push({ file: path.resolve(call.cwd, file), content: text, phase: this.phase });
        return { refs: this.manifestRefs(call, text, cluster, ns, 'apply'), answer: ok('serverside-applied\n') };
      }
      case 'create': {
        const what = required(verbs[1], 'kind', call);
        if (what === 'namespace' || what === 'ns') {
          return { refs: this.k8s('create', cluster, 'Namespace', required(verbs[2], 'name', call), undefined), answer: ok() };
        }
        if (what === 'secret' || what === 'configmap') {
          const kind = what === 'secret' ? 'Secret' : 'ConfigMap';
          const name = required(verbs[what === 'secret' ? 3 : 2], 'name', call);
          for (const source of options(argv, '--from-file')) {
            const file = source.includes('=') ? source.slice(source.indexOf('=') + 1) : source;
            if (!existsSync(path.resolve(call.cwd, file)))
              this.violations.push(`[${this.phase}] kubectl ${argv.join(' ')}: --from-file ${file} does not exist`);
          }
          if (has(argv, '--dry-run'))
            return {
              refs: this.k8s('use', cluster, 'Namespace', ns ?? 'default', undefined).slice(-1),
              answer: ok(`apiVersion: v1\nkind: ${kind}\nmetadata:\n  name: ${name}\n  namespace: ${ns ?? 'default'}\n`),
            };
          return { refs: this.k8s('create', cluster, kind, name, ns), answer: ok() };
        }
        throw new Unmodelled(`kubectl create ${what}`);
      }
      case 'get': {
        const { kind, name } = kindName();
        if (name === undefined) {
          // a list: the names the model knows, in kubectl's -o name form
          const refs = CLUSTER_SCOPED.has(kind) ? [] : this.k8s('use', cluster, 'Namespace', ns ?? 'default', undefined).slice(-1);
          return {
            refs,
            answer: () => {
              const names = [...this.live.values()]
                .filter(
                  (r) =>
                    r.type === `k8s:${kind}` && r.cluster === cluster && (CLUSTER_SCOPED.has(kind) || r.namespace === (ns ?? 'default')),
                )
                .map((r) => r.name);
              const group =
                kind === 'StorageClass'
                  ? 'storageclass.storage.k8s.io'
                  : kind === 'PersistentVolume'
                    ? 'persistentvolume'
                    : kind.toLowerCase();
              return {
                code: 0,
                stdout:
                  option(argv, '-o', '--output') === 'name'
                    ? names.map((n) => `${group}/${n}\n`).join('')
                    : JSON.stringify({ items: names.map((n) => ({ metadata: { name: n } })) }),
              };
            },
          };
        }
        const jsonpath = option(argv, '-o', '--output');
        return {
          refs: this.k8s('probe', cluster, kind, name, ns),
          answer: ok(
            jsonpath?.startsWith('jsonpath')
              ? this.plausibleJsonpath(jsonpath)
              : JSON.stringify({ kind, metadata: { name, namespace: ns } }),
          ),
        };
      }
      case 'delete': {
        if (has(argv, '-f')) throw new Unmodelled('kubectl delete -f');
        const { kind, name } = kindName();
        return { refs: this.k8s('delete', cluster, kind, required(name, 'name', call), ns, has(argv, '--ignore-not-found')), answer: ok() };
      }
      case 'annotate':
      case 'label':
      case 'patch': {
        const { kind, name } = kindName();
        return { refs: this.k8s('update', cluster, kind, required(name, 'name', call), ns), answer: ok() };
      }
      case 'rollout': {
        const sub = verbs[1];
        const target = required(verbs[2], 'target', call);
        const [kindWord, name] = target.split('/') as [string, string | undefined];
        const kind = KIND_ALIASES[kindWord.toLowerCase()];
        if (!kind || !name || (sub !== 'status' && sub !== 'restart')) throw new Unmodelled(`kubectl rollout ${sub} ${target}`);
        return {
          refs: this.k8s(sub === 'status' ? 'use' : 'update', cluster, kind, name, ns),
          answer: ok(`${target} successfully rolled out\n`),
        };
      }
      case 'wait': {
        const target = required(verbs[1], 'target', call);
        const [kindWord, name] = target.split('/') as [string, string | undefined];
        const kind = KIND_ALIASES[kindWord.toLowerCase()];
        if (!kind) throw new Unmodelled(`kubectl wait ${target}`);
        const refs = name
          ? this.k8s('use', cluster, kind, name, ns)
          : CLUSTER_SCOPED.has(kind)
            ? []
            : this.k8s('use', cluster, 'Namespace', ns ?? 'default', undefined).slice(-1);
        return { refs, answer: ok('condition met\n') };
      }
      case 'port-forward': {
        const target = required(verbs[1], 'target', call);
        const [kindWord, name] = target.split('/') as [string, string];
        const kind = KIND_ALIASES[kindWord.toLowerCase()] ?? kindWord;
        const [localPort] = (verbs[2] ?? '').split(':');
        return {
          refs: this.k8s('use', cluster, kind, name, ns),
          answer: ok(`Forwarding from 127.0.0.1:${localPort} -> ${verbs[2]?.split(':')[1] ?? ''}\n`),
        };
      }
      default:
        throw new Unmodelled(`kubectl ${verb ?? ''}`);
    }
  }

  private plausibleJsonpath(jsonpath: string): string {
    if (/\.data\.[A-Za-z-]+/.test(jsonpath)) return Buffer.from('stand-in-secret-value-0123456789').toString('base64');
    if (/clusterIP/.test(jsonpath)) return '10.0.0.42';
    if (/hostname|ip\}/.test(jsonpath)) return 'stand-in.example.internal';
    return 'stand-in';
  }

  // ---- Helm ------------------------------------------------------------------------------------------

  private helm(call: Call): { refs: Ref[]; answer: () => Answer } {
    const argv = call.argv;
    const verbs = words(
      argv,
      new Set(['-n', '--namespace', '--version', '--repo', '-f', '--values', '--timeout', '--set', '--kubeconfig']),
    );
    const ns = option(argv, '-n', '--namespace') ?? 'default';
    const ok =
      (stdout = ''): (() => Answer) =>
      () => ({ code: 0, stdout });
    if (verbs[0] === 'repo' && (verbs[1] === 'add' || verbs[1] === 'update')) return { refs: [], answer: ok() };
    const cluster = this.cluster(call);
    const release = (action: Action, name: string, optional = false): Ref => ({
      action,
      type: 'helm:release',
      key: `${cluster}/${ns}/${name}`,
      name,
      cluster,
      namespace: ns,
      optional,
    });
    switch (verbs[0]) {
      case 'upgrade':
      case 'install': {
        if (verbs[0] === 'upgrade' && !has(argv, '--install')) throw new Unmodelled('helm upgrade without --install');
        const name = required(verbs[1], 'release', call);
        const chart = required(verbs[2], 'chart', call);
        if (!has(argv, '--version'))
          this.violations.push(`[${this.phase}] helm ${argv.join(' ')}: chart ${chart} is not pinned (--version)`);
        for (const file of [...options(argv, '-f'), ...options(argv, '--values')]) {
          if (!existsSync(path.resolve(call.cwd, file)))
            this.violations.push(`[${this.phase}] helm ${argv.join(' ')}: values file ${file} does not exist`);
        }
        const refs: Ref[] = has(argv, '--create-namespace')
          ? [{ action: 'apply', type: 'k8s:Namespace', key: `${cluster}/${ns}`, name: ns, cluster }]
          : [{ action: 'use', type: 'k8s:Namespace', key: `${cluster}/${ns}`, name: ns, cluster }];
        refs.push(release(verbs[0] === 'install' ? 'create' : 'apply', name));
        const chartName = chart.split('/').pop() as string;
        for (const object of CHART_OBJECTS[chartName] ?? [])
          refs.push(...this.k8s('apply', cluster, object.kind, object.name, ns).slice(-1));
        return { refs, answer: ok(`Release "${name}" has been upgraded. Happy Helming!\n`) };
      }
      case 'status':
        return { refs: [release('probe', required(verbs[1], 'release', call))], answer: ok(`NAME: ${verbs[1]}\nSTATUS: deployed\n`) };
      case 'uninstall': {
        const name = required(verbs[1], 'release', call);
        const chartObjects = (CHART_OBJECTS[name] ?? []).map((object) => ({
          ...(this.k8s('delete', cluster, object.kind, object.name, ns, true).slice(-1)[0] as Ref),
        }));
        return {
          refs: [release('delete', name, has(argv, '--ignore-not-found')), ...chartObjects],
          answer: ok(`release "${name}" uninstalled\n`),
        };
      }
      case 'list':
        return { refs: [], answer: ok('[]') };
      default:
        throw new Unmodelled(`helm ${verbs[0] ?? ''}`);
    }
  }

  // ---- eksctl and aws --------------------------------------------------------------------------------

  private eksctl(call: Call): { refs: Ref[]; answer: () => Answer } {
    const argv = call.argv;
    const verbs = words(
      argv,
      new Set(['-f', '--config-file', '--name', '--region', '--cluster', '--kubeconfig', '-o', '--output', '--timeout']),
    );
    const ok =
      (stdout = ''): (() => Answer) =>
      () => ({ code: 0, stdout });
    const config = (): { name: string; region: string; addons: string[] } => {
      const file = required(option(argv, '-f', '--config-file'), '-f FILE', call);
      const doc = parseAllDocuments(readFileSync(path.resolve(call.cwd, file), 'utf8'))[0]?.toJS() as {
        metadata?: { name?: string; region?: string };
        addons?: { name: string }[];
      };
      return {
        name: required(doc.metadata?.name, 'metadata.name in the config', call),
        region: required(doc.metadata?.region, 'metadata.region in the config', call),
        addons: (doc.addons ?? []).map((a) => a.name),
      };
    };
    const clusterRef = (action: Action, name: string, region: string): Ref => ({
      action,
      type: 'eks:cluster',
      key: `${region}/${name}`,
      name,
    });
    const addonRef = (action: Action, cluster: string, region: string, addon: string): Ref => ({
      action,
      type: 'eks:addon',
      key: `${region}/${cluster}/${addon}`,
      name: addon,
      cluster: `${region}/${cluster}`,
    });
    const key = `${verbs[0] ?? ''} ${verbs[1] ?? ''}`;
    switch (key) {
      case 'create cluster': {
        const c = config();
        return {
          refs: [clusterRef('create', c.name, c.region), ...c.addons.map((a) => addonRef('create', c.name, c.region, a))],
          answer: () => {
            this.currentCluster = `${c.region}/${c.name}`;
            this.clusterBuiltins(this.currentCluster, 'gp2');
            return { code: 0, stdout: `EKS cluster "${c.name}" in "${c.region}" region is ready\n` };
          },
        };
      }
      case 'create addon': {
        const c = config();
        return {
          refs: [clusterRef('use', c.name, c.region), ...c.addons.map((a) => addonRef('apply', c.name, c.region, a))],
          answer: ok(),
        };
      }
      case 'get cluster': {
        const name = required(option(argv, '--name'), '--name', call);
        const region = required(option(argv, '--region'), '--region', call);
        return {
          refs: [clusterRef('probe', name, region)],
          answer: ok(JSON.stringify([{ Name: name, Region: region, Status: 'ACTIVE' }])),
        };
      }
      case 'get addon': {
        const cluster = required(option(argv, '--cluster'), '--cluster', call);
        const region = required(option(argv, '--region'), '--region', call);
        return {
          refs: [clusterRef('use', cluster, region), addonRef('probe', cluster, region, required(option(argv, '--name'), '--name', call))],
          answer: ok('[]'),
        };
      }
      case 'delete cluster': {
        const name = required(option(argv, '--name'), '--name', call);
        const region = required(option(argv, '--region'), '--region', call);
        return { refs: [clusterRef('delete', name, region)], answer: ok() };
      }
      case 'utils write-kubeconfig': {
        const name = required(option(argv, '--cluster'), '--cluster', call);
        const region = required(option(argv, '--region'), '--region', call);
        return { refs: [clusterRef('use', name, region)], answer: () => ((this.currentCluster = `${region}/${name}`), { code: 0 }) };
      }
      default:
        throw new Unmodelled(`eksctl ${key}`);
    }
  }

  private aws(call: Call): { refs: Ref[]; answer: () => Answer } {
    const argv = call.argv;
    const verbs = words(
      argv,
      new Set([
        '--region',
        '--query',
        '--output',
        '--name',
        '--repository-name',
        '--repository-names',
        '--kubeconfig',
        '--image-scanning-configuration',
        '--image-tag-mutability',
      ]),
    );
    const region = option(argv, '--region') ?? process.env['AWS_REGION'] ?? 'eu-west-1';
    const ok =
      (stdout = ''): (() => Answer) =>
      () => ({ code: 0, stdout });
    const repo = (action: Action, name: string): Ref => ({ action, type: 'aws:ecr-repository', key: `${region}/${name}`, name });
    const key = `${verbs[0] ?? ''} ${verbs[1] ?? ''}`;
    switch (key) {
      case 'sts get-caller-identity':
        return {
          refs: [],
          answer: ok(
            option(argv, '--query') === 'Account'
              ? `${ACCOUNT}\n`
              : JSON.stringify({ Account: ACCOUNT, Arn: `arn:aws:iam::${ACCOUNT}:user/stand-in` }),
          ),
        };
      case 'ecr describe-repositories': {
        const names = required(option(argv, '--repository-names'), '--repository-names', call);
        return {
          refs: [repo('probe', names)],
          answer: ok(
            JSON.stringify({
              repositories: [{ repositoryName: names, repositoryUri: `${ACCOUNT}.dkr.ecr.${region}.amazonaws.com/${names}` }],
            }),
          ),
        };
      }
      case 'ecr create-repository':
        return { refs: [repo('create', required(option(argv, '--repository-name'), '--repository-name', call))], answer: ok('{}') };
      case 'ecr delete-repository':
        return { refs: [repo('delete', required(option(argv, '--repository-name'), '--repository-name', call))], answer: ok('{}') };
      case 'ecr get-login-password':
        return { refs: [], answer: ok(`${ECR_PASSWORD}\n`) };
      case 'eks update-kubeconfig': {
        const name = required(option(argv, '--name'), '--name', call);
        return {
          refs: [{ action: 'use', type: 'eks:cluster', key: `${region}/${name}`, name }],
          answer: () => ((this.currentCluster = `${region}/${name}`), { code: 0, stdout: `Added new context ${name}\n` }),
        };
      }
      case 'eks describe-cluster': {
        const name = required(option(argv, '--name'), '--name', call);
        return {
          refs: [{ action: 'probe', type: 'eks:cluster', key: `${region}/${name}`, name }],
          answer: ok(option(argv, '--query') ? 'ACTIVE\n' : JSON.stringify({ cluster: { name, status: 'ACTIVE' } })),
        };
      }
      default:
        throw new Unmodelled(`aws ${key}`);
    }
  }

  private docker(call: Call): { refs: Ref[]; answer: () => Answer } {
    const argv = call.argv;
    const verbs = words(argv, new Set(['--username', '-u', '-t', '--tag', '-f', '--file', '--build-arg']));
    const ok =
      (stdout = ''): (() => Answer) =>
      () => ({ code: 0, stdout });
    switch (verbs[0]) {
      case 'login':
        if (!has(argv, '--password-stdin') || call.stdin.trim() === '')
          this.violations.push(`[${this.phase}] docker ${argv.join(' ')}: the password must come on stdin`);
        return { refs: [], answer: ok('Login Succeeded\n') };
      case 'push': {
        const ref = required(verbs[1], 'image', call);
        const match = /^(\d+)\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com\/([^:]+):(.+)$/.exec(ref);
        if (!match) throw new Unmodelled(`docker push ${ref}: not an ECR reference`);
        const [, , region, repository] = match as unknown as [string, string, string, string];
        if (!this.localImages.has(ref))
          this.violations.push(`[${this.phase}] docker push ${ref}: no image was built with that tag earlier`);
        return {
          refs: [{ action: 'use', type: 'aws:ecr-repository', key: `${region}/${repository}`, name: repository }],
          answer: ok(`${ref}: digest: sha256:${'0'.repeat(64)}\n`),
        };
      }
      case 'build': {
        const tag = required(option(argv, '-t', '--tag'), '-t', call);
        this.localImages.add(tag);
        return { refs: [], answer: ok() };
      }
      default:
        throw new Unmodelled(`docker ${verbs[0] ?? ''}`);
    }
  }

  /** npm and npx: the repository's own scripts (check-manifests runs for real; builds, images, load and report are recorded). */
  private node(call: Call): { refs: Ref[]; answer: () => Answer } {
    const argv = call.argv;
    const before = argv.indexOf('--') < 0 ? argv : argv.slice(0, argv.indexOf('--'));
    const after = argv.indexOf('--') < 0 ? [] : argv.slice(argv.indexOf('--') + 1);
    const verbs = words(before, new Set(['-w', '--workspace']));
    const ok =
      (stdout = ''): (() => Answer) =>
      () => ({ code: 0, stdout });
    if (call.cli === 'npm' && verbs[0] === 'run') {
      switch (verbs[1]) {
        case 'check-manifests':
          for (const file of after) this.checked.set(path.resolve(call.cwd, file), readFileSync(path.resolve(call.cwd, file), 'utf8'));
          return { refs: [], answer: () => ({ code: 0, pass: true }) };
        case 'load':
          return {
            refs: [],
            answer: ok(
              `load ${option(after, '--load-id') ?? ''}: completed, sent ${option(after, '--count') ?? '0'}/${option(after, '--count') ?? '0'}\n`,
            ),
          };
        case 'report':
          return { refs: [], answer: ok(`report written to ${option(after, '--out') ?? ''}\n`) };
        default:
          throw new Unmodelled(`npm run ${verbs[1] ?? ''}`);
      }
    }
    if (call.cli === 'npx' && verbs[0] === 'nx') {
      const app = required(verbs[2], 'project', call);
      if (verbs[1] === 'build') {
        this.builtImages.add(app);
        return { refs: [], answer: ok(`built apps/${app}/dist\n`) };
      }
      if (verbs[1] === 'image') {
        const tag = option(after, '--tag') ?? `surge/${app}:dev`;
        if (!this.builtImages.has(app))
          this.violations.push(`[${this.phase}] npx nx image ${app}: the bundle was not built first (npx nx build ${app})`);
        this.localImages.add(tag);
        return { refs: [], answer: ok(`${tag} 123 MB\n`) };
      }
    }
    throw new Unmodelled(`${call.cli} ${verbs.join(' ')}`);
  }

  private curl(call: Call): { refs: Ref[]; answer: () => Answer } {
    const url = call.argv.find((arg) => /^https?:\/\//.test(arg));
    if (!url) throw new Unmodelled('curl without a URL');
    const { hostname, pathname } = new URL(url);
    if (hostname !== '127.0.0.1' && hostname !== 'localhost')
      this.violations.push(`[${this.phase}] curl ${url}: the scripts reach the cluster through port-forwards on loopback only`);
    const now = Math.floor(Date.now() / 1000);
    let body = '';
    if (pathname === '/api/v1/query')
      body = JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [now, '3'] }] } });
    else if (pathname === '/api/v1/query_range')
      body = JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: [{ metric: {}, values: [[now, '3']] }] } });
    else if (pathname === '/-/ready') body = 'Prometheus Server is Ready.\n';
    else if (pathname === '/readyz' || pathname === '/livez') body = '{"status":"ok"}';
    else if (pathname === '/load') body = JSON.stringify({ loadId: 'stand-in-load', statusUrl: '/load/stand-in-load' });
    else if (pathname.startsWith('/load/')) body = JSON.stringify({ state: 'completed', sent: 1000, total: 1000 });
    else throw new Unmodelled(`curl ${pathname}`);
    return { refs: [], answer: () => ({ code: 0, stdout: has(call.argv, '-o') ? '' : body }) };
  }

  // ---- Azure -----------------------------------------------------------------------------------------

  private az(call: Call): { refs: Ref[]; answer: () => Answer } {
    const argv = call.argv;
    // az's command group comes first: the words before the first option (--tags a=b c=d takes several values)
    const leading = argv.findIndex((arg) => arg.startsWith('-'));
    const path_ = (leading < 0 ? argv : argv.slice(0, leading)).join(' ');
    const g = option(argv, '-g', '--resource-group');
    const n = option(argv, '-n', '--name');
    const query = option(argv, '--query');
    const inGroup = (type: string, name: string | undefined, action: Action, parent?: string): Ref => {
      const group = required(g, '-g', call);
      const leaf = required(name, '-n', call);
      return { action, type: `az:${type}`, key: `${group}/${parent ? `${parent}/` : ''}${leaf}`, name: leaf, group };
    };
    const groupRef = (action: Action, name = required(g, '-g', call)): Ref => ({ action, type: 'az:group', key: name, name, group: name });
    const answerFor =
      (ref: Ref | undefined): (() => Answer) =>
      () => ({
        code: 0,
        stdout:
          query !== undefined
            ? `${this.plausibleAz(query, ref)}\n`
            : `${JSON.stringify({ id: ref ? this.azId(ref) : '/subscriptions/stand-in', name: ref?.name, provisioningState: 'Succeeded' })}\n`,
      });
    // resources that live in a group: <az words> → type, and the option that names their parent
    const kinds: { prefix: string; type: string; parent?: string[] }[] = [
      { prefix: 'aks nodepool', type: 'aks-nodepool', parent: ['--cluster-name'] },
      { prefix: 'aks', type: 'aks' },
      { prefix: 'acr', type: 'acr' },
      { prefix: 'servicebus namespace authorization-rule', type: 'servicebus-sas', parent: ['--namespace-name'] },
      { prefix: 'servicebus queue', type: 'servicebus-queue', parent: ['--namespace-name'] },
      { prefix: 'servicebus namespace', type: 'servicebus-namespace' },
      { prefix: 'storage container-rm', type: 'storage-container', parent: ['--storage-account', '--account-name'] },
      { prefix: 'storage account', type: 'storage-account' },
      { prefix: 'identity federated-credential', type: 'federated-credential', parent: ['--identity-name'] },
      { prefix: 'identity', type: 'identity' },
      { prefix: 'network vnet subnet', type: 'subnet', parent: ['--vnet-name'] },
      { prefix: 'network vnet', type: 'vnet' },
    ];
    if (path_.startsWith('acr token ')) {
      const registry = required(option(argv, '-r', '--registry'), '-r', call);
      const acr = inGroupByName(this, 'acr', registry, call);
      const token = (action: Action): Ref => ({
        action,
        type: 'az:acr-token',
        key: `${registry}/${required(n, '-n', call)}`,
        name: required(n, '-n', call),
        ...(acr.group ? { group: acr.group } : {}),
      });
      const verb = path_.slice('acr token '.length);
      if (verb === 'create') return { refs: [acr, token('create')], answer: answerFor(token('use')) };
      if (verb === 'show') return { refs: [token('probe')], answer: answerFor(token('use')) };
      if (verb === 'credential generate')
        return { refs: [token('update')], answer: () => ({ code: 0, stdout: query ? `${PULL_PASSWORD}\n` : '{}' }) };
      throw new Unmodelled(`az ${path_}`);
    }
    if (path_ === 'group create') return { refs: [groupRef('create', required(n, '-n', call))], answer: answerFor(groupRef('use', n)) };
    if (path_ === 'group show') return { refs: [groupRef('probe', required(n, '-n', call))], answer: answerFor(groupRef('use', n)) };
    if (path_ === 'group delete') return { refs: [groupRef('delete', required(n, '-n', call))], answer: () => ({ code: 0 }) };
    if (path_ === 'account show')
      return {
        refs: [],
        answer: () => ({
          code: 0,
          stdout: query ? `${uuid('subscription')}\n` : JSON.stringify({ id: uuid('subscription'), tenantId: uuid('tenant') }),
        }),
      };
    if (path_ === 'role assignment list') {
      // the assignments the model holds for that assignee, role and scope (empty when none)
      const key = `${option(argv, '--assignee', '--assignee-object-id')}|${option(argv, '--role')}|${option(argv, '--scope')}`;
      return {
        refs: [],
        answer: () => ({
          code: 0,
          stdout: this.exists('az:role-assignment', key)
            ? `/subscriptions/${uuid('subscription')}/providers/Microsoft.Authorization/roleAssignments/${uuid(key)}\n`
            : '',
        }),
      };
    }
    if (path_ === 'role assignment create') {
      const assignee = required(option(argv, '--assignee-object-id', '--assignee'), '--assignee-object-id', call);
      const scope = required(option(argv, '--scope'), '--scope', call);
      const group = /\/resourceGroups\/([^/]+)/i.exec(scope)?.[1];
      return {
        refs: [
          {
            action: 'create',
            type: 'az:role-assignment',
            key: `${assignee}|${option(argv, '--role')}|${scope}`,
            name: option(argv, '--role') ?? '',
            ...(group ? { group } : {}),
          },
        ],
        answer: answerFor(undefined),
      };
    }
    for (const kind of kinds) {
      if (!path_.startsWith(`${kind.prefix} `)) continue;
      const verb = path_.slice(kind.prefix.length + 1);
      const parent = kind.parent ? required(option(argv, ...kind.parent), kind.parent.join('|'), call) : undefined;
      const parentRefs: Ref[] = [];
      if (kind.type === 'aks-nodepool') parentRefs.push(inGroup('aks', parent, 'use'));
      if (kind.type === 'servicebus-queue' || kind.type === 'servicebus-sas')
        parentRefs.push(inGroup('servicebus-namespace', parent, 'use'));
      if (kind.type === 'storage-container') parentRefs.push(inGroup('storage-account', parent, 'use'));
      if (kind.type === 'federated-credential') parentRefs.push(inGroup('identity', parent, 'use'));
      if (kind.type === 'subnet') parentRefs.push(inGroup('vnet', parent, 'use'));
      const self = (action: Action, name = n): Ref => inGroup(kind.type, name, action, parent);
      switch (verb) {
        case 'create':
        case 'add': {
          if (kind.type === 'aks') {
            const attached = option(argv, '--attach-acr');
            if (attached) parentRefs.push(inGroupByName(this, 'acr', attached, call));
            // add-ons whose objects the scripts refer to once the credentials are fetched
            const addons = new Set((option(argv, '--enable-addons') ?? '').split(',').filter(Boolean));
            if (has(argv, '--enable-keda')) addons.add('keda');
            this.aksAddons.set(self('use').key, addons);
          }
          return { refs: [groupRef('use'), ...parentRefs, self('create')], answer: answerFor(self('use')) };
        }
        case 'show':
        case 'show-connection-string':
        case 'keys list':
          return { refs: [...parentRefs, self(verb === 'show' ? 'probe' : 'use')], answer: answerFor(self('use')) };
        case 'delete':
          return { refs: [self('delete')], answer: () => ({ code: 0 }) };
        case 'update':
        case 'enable-addons':
          return { refs: [self('update')], answer: answerFor(self('use')) };
        case 'get-credentials':
          return {
            refs: [self('use')],
            answer: () => {
              const ref = self('use');
              if (this.currentCluster !== ref.key) {
                this.currentCluster = ref.key;
                if (!this.exists('k8s:Namespace', `${ref.key}/default`)) {
                  this.clusterBuiltins(ref.key, 'default');
                  if (this.aksAddons.get(ref.key)?.has('keda')) {
                    for (const object of CHART_OBJECTS['keda'] ?? [])
                      this.add(this.k8s('create', ref.key, object.kind, object.name, 'kube-system').slice(-1)[0] as Ref);
                  }
                }
              }
              return { code: 0, stdout: `Merged "${ref.name}" as current context\n` };
            },
          };
        case 'build': {
          const registry = required(option(argv, '-r', '--registry'), '-r', call);
          return {
            refs: [inGroupByName(this, 'acr', registry, call)],
            answer: () => ({ code: 0, stdout: 'Run ID: stand-in was successful\n' }),
          };
        }
        case 'repository show': {
          const registry = required(option(argv, '-n', '--name'), '-n', call);
          const image = required(option(argv, '--image'), '--image', call);
          return {
            refs: [
              inGroupByName(this, 'acr', registry, call),
              { action: 'probe', type: 'az:acr-image', key: `${registry}/${image}`, name: image },
            ],
            answer: answerFor(undefined),
          };
        }
        default:
          throw new Unmodelled(`az ${path_}`);
      }
    }
    throw new Unmodelled(`az ${path_}`);
  }

  private azId(ref: Ref): string {
    if (ref.type === 'az:group') return `/subscriptions/${uuid('subscription')}/resourceGroups/${ref.name}`;
    return `/subscriptions/${uuid('subscription')}/resourceGroups/${ref.group ?? 'stand-in'}/providers/stand-in/${ref.type.slice(3)}/${ref.name}`;
  }

  /** A plausible single value for `--query X -o tsv` (the script uses it as one line). */
  private plausibleAz(query: string, ref: Ref | undefined): string {
    const name = ref?.name ?? 'stand-in';
    if (/connectionString/i.test(query)) {
      return ref?.type === 'az:storage-account'
        ? `DefaultEndpointsProtocol=https;AccountName=${name};AccountKey=${SECRET_KEY};EndpointSuffix=core.windows.net`
        : `Endpoint=sb://stand-in.servicebus.windows.net/;SharedAccessKeyName=${name};SharedAccessKey=${SECRET_KEY}`;
    }
    if (/clientId|principalId|objectId|tenantId|appId/i.test(query)) return uuid(`${query}/${ref?.key ?? ''}`);
    if (/issuerUrl|oidcIssuer/i.test(query)) return `https://oidc.stand-in.example/${uuid(ref?.key ?? '')}/`;
    if (/loginServer/i.test(query)) return `${name}.azurecr.io`;
    if (/primaryEndpoints\.blob/i.test(query)) return `https://${name}.blob.core.windows.net/`;
    if (/serviceBusEndpoint/i.test(query)) return `https://${name}.servicebus.windows.net:443/`;
    if (/nodeResourceGroup/i.test(query)) return `MC_${ref?.group ?? 'rg'}_${name}`;
    if (/^\[?\]?\.?id$|^id$/i.test(query) || /\.id$/.test(query)) return ref ? this.azId(ref) : '/subscriptions/stand-in';
    if (/name/i.test(query)) return name;
    return 'stand-in-value';
  }
}

/** An Azure resource found by its name alone (acr build -r NAME): whichever group holds it. */
function inGroupByName(model: FlowModel, type: string, name: string, call: Call): Ref {
  for (const resource of model.live.values()) {
    if (resource.type === `az:${type}` && resource.name === name)
      return { action: 'use', type: resource.type, key: resource.key, name, ...(resource.group ? { group: resource.group } : {}) };
  }
  return { action: 'use', type: `az:${type}`, key: `(unknown group)/${name}`, name: required(name, 'name', call) };
}
