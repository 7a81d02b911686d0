/**
 * Trigger metadata and TriggerAuthentication parameters, per scaler type, against the names KEDA
 * v2.20 reads. KEDA itself ignores a key it does not know (a misspelt `queueNme` or `mesageCount`
 * is silently dropped, and a default takes its place), so these checks fail where KEDA would not.
 *
 * Source of every table: the scaler's typed config in kedacore/keda at tag v2.20.2
 * (commit 68a5b50), i.e. the `keda:"name=…, order=…"` struct tags. A name with order
 * `triggerMetadata` is a metadata key; with `resolvedEnv` it may be given as `<name>FromEnv` (read
 * from the target container's env); with `authParams` it is a TriggerAuthentication `parameter`.
 * A tag without `optional` or `default` is required. The user-facing page is
 * https://keda.sh/docs/2.20/scalers/<page>/, named per table.
 */
import { describe, didYouMean, fieldPath, type Problem } from './problems.ts';
import type { K8sObject } from './render.ts';

interface Presence {
  /** the parameter is given: as metadata, as `<name>FromEnv` (where allowed) or by the TriggerAuthentication */
  has(name: string): boolean;
  metadata: Record<string, string>;
  /** `podIdentity.provider` of the referenced TriggerAuthentication ('' when none) */
  provider: string;
  /** the trigger only feeds `advanced.scalingModifiers` (KEDA's AsMetricSource) */
  asMetricSource: boolean;
}

export interface ScalerParameters {
  /** the KEDA source file the names come from */
  source: string;
  /** the scaler's page in KEDA's docs */
  docs: string;
  metadata: readonly string[];
  fromEnv: readonly string[];
  auth: readonly string[];
  /** required parameters and combinations that KEDA's parser rejects; each string is one problem */
  required(p: Presence): string[];
}

const SOURCE = (file: string, page: string) => ({
  source: `kedacore/keda v2.20.2 pkg/scalers/${file}`,
  docs: `https://keda.sh/docs/2.20/scalers/${page}/`,
});

// pkg/scalers/authentication/authentication_types.go: Config, BasicAuth, CertAuth, OAuth, CustomAuth, APIKeyAuth
const AUTH_CONFIG_METADATA = ['authModes', 'authMode', 'apiKey', 'method', 'keyParamName'];
const AUTH_CONFIG_PARAMS = [
  ...AUTH_CONFIG_METADATA,
  'bearerToken',
  'token',
  'username',
  'password',
  'cert',
  'key',
  'ca',
  'oauthTokenURI',
  'scopes',
  'scope',
  'clientID',
  'clientSecret',
  'endpointParams',
  'customAuthHeader',
  'customAuthValue',
];

const missing = (p: Presence, names: string[]) => names.filter((n) => !p.has(n)).map((n) => `"${n}" is required`);

export const SCALERS: Record<string, ScalerParameters> = {
  'azure-servicebus': {
    ...SOURCE(
      'azure_servicebus_scaler.go (azureServiceBusMetadata; cloud/endpointSuffix: azure/azure_cloud_environment.go)',
      'azure-service-bus',
    ),
    metadata: [
      'messageCount',
      'activationMessageCount',
      'queueName',
      'topicName',
      'subscriptionName',
      'namespace',
      'useRegex',
      'operation',
      'cloud',
      'endpointSuffix',
    ],
    fromEnv: ['connection'],
    auth: ['connection'],
    required(p) {
      const out: string[] = [];
      const queue = p.has('queueName');
      const topic = p.has('topicName');
      if (!queue && !topic) out.push('"queueName", or "topicName" with "subscriptionName", is required');
      if (queue && topic) out.push('"queueName" and "topicName" exclude each other');
      if (queue && p.has('subscriptionName')) out.push('"subscriptionName" does not go with "queueName"');
      if (topic && !p.has('subscriptionName')) out.push('"topicName" needs "subscriptionName"');
      if (p.provider === '' || p.provider === 'none') {
        if (!p.has('connection'))
          out.push('"connection" (TriggerAuthentication parameter or connectionFromEnv) is required without pod identity');
      } else if (p.provider === 'azure-workload') {
        if (!p.has('namespace')) out.push('"namespace" is required with pod identity azure-workload');
      } else {
        out.push(`pod identity provider "${p.provider}" is not supported by azure-servicebus (none or azure-workload)`);
      }
      if (p.metadata.cloud?.toLowerCase() === 'private' && !p.has('endpointSuffix'))
        out.push('"endpointSuffix" is required with cloud Private');
      return out;
    },
  },
  rabbitmq: {
    ...SOURCE('rabbitmq_scaler.go (rabbitMQMetadata, embedded authentication.OAuth)', 'rabbitmq-queue'),
    metadata: [
      'queueName',
      'mode',
      'queueLength',
      'value',
      'activationValue',
      'host',
      'protocol',
      'vhostName',
      'useRegex',
      'excludeUnacknowledged',
      'pageSize',
      'operation',
      'timeout',
      'unsafeSsl',
    ],
    fromEnv: ['host', 'username', 'password'],
    auth: [
      'host',
      'protocol',
      'vhostName',
      'username',
      'password',
      'ca',
      'cert',
      'key',
      'keyPassword',
      'tls',
      'workloadIdentityResource',
      'oauthTokenURI',
      'scopes',
      'scope',
      'clientID',
      'clientSecret',
      'endpointParams',
    ],
    required(p) {
      const out = missing(p, ['queueName', 'host']);
      // rabbitMQMetadata.validateTrigger
      if (p.has('queueLength') && (p.has('mode') || p.has('value'))) out.push('"queueLength" is deprecated and excludes "mode"/"value"');
      if (p.has('mode') && !p.has('value')) out.push('"mode" needs "value"');
      if (p.has('value') && !p.has('mode')) out.push('"value" needs "mode"');
      return out;
    },
  },
  prometheus: {
    ...SOURCE('prometheus_scaler.go (prometheusMetadata, authentication.Config)', 'prometheus'),
    metadata: [
      'serverAddress',
      'query',
      'queryParameters',
      'threshold',
      'activationThreshold',
      'namespace',
      'customHeaders',
      'ignoreNullValues',
      'unsafeSsl',
      'awsRegion',
      'timeout',
      'identityOwner',
      ...AUTH_CONFIG_METADATA,
    ],
    fromEnv: [],
    auth: ['awsRegion', ...AUTH_CONFIG_PARAMS],
    required: (p) => missing(p, ['serverAddress', 'query', 'threshold']),
  },
  'metrics-api': {
    ...SOURCE('metrics_api_scaler.go (metricsAPIScalerMetadata, authentication.Config)', 'metrics-api'),
    metadata: [
      'targetValue',
      'activationTargetValue',
      'url',
      'format',
      'valueLocation',
      'unsafeSsl',
      'aggregateFromKubeServiceEndpoints',
      'aggregationType',
      'timeout',
      ...AUTH_CONFIG_METADATA,
    ],
    fromEnv: [],
    auth: AUTH_CONFIG_PARAMS,
    // parseMetricsAPIMetadata: targetValue may be left out only when the trigger feeds scalingModifiers
    required: (p) => missing(p, ['url', 'valueLocation', ...(p.asMetricSource ? [] : ['targetValue'])]),
  },
  // cpu/memory: `type` is tagged deprecated (removed in v2.18; KEDA rejects it), so it is not accepted here
  cpu: {
    ...SOURCE('cpu_memory_scaler.go (cpuMemoryMetadata)', 'cpu'),
    metadata: ['value', 'containerName'],
    fromEnv: [],
    auth: [],
    required: (p) => missing(p, ['value']),
  },
  memory: {
    ...SOURCE('cpu_memory_scaler.go (cpuMemoryMetadata)', 'memory'),
    metadata: ['value', 'containerName'],
    fromEnv: [],
    auth: [],
    required: (p) => missing(p, ['value']),
  },
};

/** Every trigger type KEDA v2.20.2 builds (pkg/scaling/scalers_builder.go, buildScaler). */
export const KEDA_SCALER_TYPES = new Set(
  (
    'activemq apache-kafka arangodb artemis-queue aws-cloudwatch aws-dynamodb aws-dynamodb-streams aws-kinesis-stream aws-sqs-queue ' +
    'azure-app-insights azure-blob azure-data-explorer azure-eventhub azure-log-analytics azure-monitor azure-pipelines azure-queue ' +
    'azure-servicebus beanstalkd cassandra couchdb cpu cron datadog dynatrace elastic-forecast elasticsearch etcd external external-mock ' +
    'external-push forgejo-runner gcp-cloudtasks gcp-pubsub gcp-stackdriver gcp-storage github-runner graphite huawei-cloudeye ibmmq ' +
    'influxdb kafka kubernetes-resource kubernetes-workload liiklus loki memory metrics-api mongodb mssql mysql nats-jetstream new-relic ' +
    'nsq opensearch openstack-metric openstack-swift postgresql predictkube prometheus pulsar rabbitmq redis redis-cluster ' +
    'redis-cluster-streams redis-sentinel redis-sentinel-streams redis-streams selenium-grid solace-direct-messaging solace-event-queue ' +
    'solarwinds solr splunk splunk-observability sumologic temporal'
  ).split(' '),
);

type Json = Record<string, unknown>;
interface Trigger {
  type?: string;
  metadata?: Record<string, string>;
  authenticationRef?: { name?: string; kind?: string };
}
interface AuthRef {
  parameter?: string;
}

const AUTH_KINDS = new Set(['TriggerAuthentication', 'ClusterTriggerAuthentication']);
const ns = (obj: K8sObject) => obj.metadata.namespace ?? 'default';
const isScaler = (o: K8sObject) => o.apiVersion.startsWith('keda.sh/') && (o.kind === 'ScaledObject' || o.kind === 'ScaledJob');
const isAuth = (o: K8sObject) => o.apiVersion.startsWith('keda.sh/') && AUTH_KINDS.has(o.kind);

/** The TriggerAuthentication (same namespace) or ClusterTriggerAuthentication a trigger refers to. */
function resolveAuth(objects: K8sObject[], scaler: K8sObject, ref: { name?: string; kind?: string }): K8sObject | undefined {
  const kind = ref.kind ?? 'TriggerAuthentication';
  return objects.find(
    (o) =>
      isAuth(o) && o.kind === kind && o.metadata.name === ref.name && (kind === 'ClusterTriggerAuthentication' || ns(o) === ns(scaler)),
  );
}

/** Parameter names a TriggerAuthentication provides, with where each is written. */
function authParameters(auth: K8sObject): { name: string; field: string }[] {
  const spec = ((auth as Json).spec ?? {}) as Record<string, AuthRef[] | undefined>;
  const out: { name: string; field: string }[] = [];
  for (const list of ['secretTargetRef', 'env', 'configMapTargetRef'] as const) {
    (spec[list] ?? []).forEach((ref, i) => {
      if (typeof ref?.parameter === 'string') out.push({ name: ref.parameter, field: fieldPath(['spec', list, i, 'parameter']) });
    });
  }
  return out;
}

/** Metadata keys and TriggerAuthentication parameters per scaler type, and the required ones present. */
export function checkTriggerParameters(objects: K8sObject[]): Problem[] {
  const out: Problem[] = [];
  const referencedBy = new Map<K8sObject, Set<string>>();
  for (const scaler of objects.filter(isScaler)) {
    const spec = ((scaler as Json).spec ?? {}) as Json;
    const triggers = (spec.triggers ?? []) as Trigger[];
    const asMetricSource = scaler.kind === 'ScaledObject' && (spec.advanced as Json | undefined)?.scalingModifiers !== undefined;
    triggers.forEach((trigger, i) => {
      const at = (...rest: (string | number)[]) => fieldPath(['spec', 'triggers', i, ...rest]);
      const v = (field: string, rule: string, message: string) => out.push({ object: describe(scaler), field, rule, message });
      const type = trigger.type ?? '';
      const table = SCALERS[type];
      const auth = trigger.authenticationRef ? resolveAuth(objects, scaler, trigger.authenticationRef) : undefined;
      // an unresolved reference is the invariant auth-exists (checkScalers)
      if (auth) {
        const types = referencedBy.get(auth) ?? new Set<string>();
        referencedBy.set(auth, types.add(type));
      }
      if (!table) {
        if (!KEDA_SCALER_TYPES.has(type))
          v(at('type'), 'trigger-type', `"${type}" is not a KEDA v2.20 scaler type${didYouMean(type, KEDA_SCALER_TYPES)}`);
        return; // a real scaler this table does not cover: its metadata is not checked (see the README)
      }
      const metadata = trigger.metadata ?? {};
      const known = new Set([...table.metadata, ...table.fromEnv.map((n) => `${n}FromEnv`)]);
      for (const key of Object.keys(metadata)) {
        if (!known.has(key)) {
          const authOnly = table.auth.includes(key)
            ? ` (KEDA reads it only from a TriggerAuthentication${table.fromEnv.includes(key) ? ` or ${key}FromEnv` : ''})`
            : undefined;
          const hint = authOnly ?? didYouMean(key, known);
          v(at('metadata', key), 'trigger-metadata-known', `${type} does not read "${key}"${hint} (${table.docs})`);
        }
      }
      const provided = new Set(auth ? authParameters(auth).map((p) => p.name) : []);
      const presence: Presence = {
        has: (name) =>
          (metadata[name] ?? '').trim() !== '' ||
          (table.fromEnv.includes(name) && (metadata[`${name}FromEnv`] ?? '') !== '') ||
          (table.auth.includes(name) && provided.has(name)),
        metadata,
        provider: String(
          ((auth as Json | undefined)?.spec as { podIdentity?: { provider?: string } } | undefined)?.podIdentity?.provider ?? '',
        ),
        asMetricSource,
      };
      for (const message of table.required(presence)) v(at('metadata'), 'trigger-metadata-required', `${type}: ${message} (${table.docs})`);
    });
  }
  for (const auth of objects.filter(isAuth)) {
    const types = referencedBy.get(auth);
    if (!types) {
      // a ClusterTriggerAuthentication may serve other namespaces; a namespaced one here serves nothing
      if (auth.kind === 'TriggerAuthentication')
        out.push({
          object: describe(auth),
          rule: 'trigger-auth-used',
          message: 'no trigger in the input refers to it, so its parameters cannot be checked',
        });
      continue;
    }
    const tables = [...types].map((t) => SCALERS[t]).filter((t): t is ScalerParameters => t !== undefined);
    if (tables.length < types.size) continue; // referenced by a scaler type without a table
    const accepted = new Set(tables.flatMap((t) => t.auth));
    for (const { name, field } of authParameters(auth)) {
      if (!accepted.has(name)) {
        out.push({
          object: describe(auth),
          field,
          rule: 'trigger-auth-parameter',
          message: `"${name}" is not a parameter of ${[...types].join(', ')}${didYouMean(name, accepted)} (${tables.map((t) => t.docs).join(', ')})`,
        });
      }
    }
  }
  return out;
}
