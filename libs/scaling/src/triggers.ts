/**
 * The triggers we model, read as KEDA's scalers read their metadata at keda 8b4f083
 * (pkg/scalers/azure_servicebus_scaler.go, rabbitmq_scaler.go, prometheus_scaler.go, metrics_api_scaler.go);
 * see docs/keda-semantics.md#triggers.
 */
import { ManifestReader, MetadataReader } from './manifest-reader.ts';
import type { MetricSource, MetricTargetType, TriggerSpec, TriggerType } from './spec.ts';

export const SUPPORTED_TRIGGER_TYPES: readonly TriggerType[] = ['rabbitmq', 'azure-servicebus', 'metrics-api', 'prometheus'];

/** Defaults of the scalers we model (docs/keda-semantics.md#triggers). */
export const TRIGGER_DEFAULTS = {
  rabbitmqQueueLength: 20,
  servicebusMessageCount: 5,
  activation: 0,
} as const;

const RABBITMQ_RATE_MODES = ['MessageRate', 'DeliverGetRate', 'PublishedToDeliveredRatio', 'ExpectedQueueConsumptionTime'];

/** KEDA turns these characters into '-' in metric names (`scaler.go`). */
function normalizeMetricName(name: string): string {
  return name.replace(/[/.:%()]/g, '-');
}

interface TriggerValues {
  readonly target: number;
  readonly activationTarget: number;
  readonly metricSuffix: string;
  readonly source: MetricSource;
}

/** Parses `spec.triggers`; `owner` decides whether `metricType` is allowed (ScaledJobs forbid it). */
export function parseTriggers(reader: ManifestReader, value: unknown, path: string, owner: 'ScaledObject' | 'ScaledJob'): TriggerSpec[] {
  if (!Array.isArray(value) || value.length === 0) {
    reader.invalid(path, 'must be a non-empty list of triggers');
    return [];
  }
  const triggers: TriggerSpec[] = [];
  value.forEach((raw, index) => {
    const trigger = parseTrigger(reader, raw, `${path}[${index}]`, index, owner);
    if (trigger) triggers.push(trigger);
  });
  return triggers;
}

function parseTrigger(
  reader: ManifestReader,
  raw: unknown,
  path: string,
  index: number,
  owner: 'ScaledObject' | 'ScaledJob',
): TriggerSpec | undefined {
  const trigger = reader.object(raw, path, true);
  if (!trigger) return undefined;
  const type = reader.string(trigger['type'], `${path}.type`, true);
  const name = reader.string(trigger['name'], `${path}.name`, false) ?? null;
  const useCachedMetrics = reader.boolean(trigger['useCachedMetrics'], `${path}.useCachedMetrics`) ?? false;

  let metricType: MetricTargetType = 'AverageValue';
  if (trigger['metricType'] !== undefined) {
    if (owner === 'ScaledJob') {
      reader.invalid(`${path}.metricType`, 'is forbidden on a ScaledJob trigger (KEDA fails the reconcile)');
    } else if (trigger['metricType'] === 'Utilization') {
      reader.invalid(`${path}.metricType`, 'Utilization is only for cpu/memory triggers; use AverageValue or Value');
    } else {
      metricType = reader.oneOf(trigger['metricType'], `${path}.metricType`, ['AverageValue', 'Value'] as const) ?? metricType;
    }
  }

  const metadataObject = reader.object(trigger['metadata'], `${path}.metadata`, true);
  if (type === undefined || metadataObject === undefined) return undefined;
  if (!(SUPPORTED_TRIGGER_TYPES as readonly string[]).includes(type)) {
    reader.unsupported(
      `${path}.type`,
      `trigger type ${JSON.stringify(type)} is not modelled (supported: ${SUPPORTED_TRIGGER_TYPES.join(', ')})`,
    );
    return undefined;
  }
  const metadata = new MetadataReader(reader, metadataObject, `${path}.metadata`);
  const issuesBefore = reader.issues.length;
  const values = parsers[type as TriggerType](reader, metadata);
  if (values === undefined || reader.issues.length > issuesBefore) return undefined;
  if (!(values.target > 0)) {
    reader.invalid(`${path}.metadata`, `the target must be > 0, got ${values.target}`);
    return undefined;
  }
  return {
    index,
    type: type as TriggerType,
    name,
    metricName: normalizeMetricName(`s${index}-${values.metricSuffix}`),
    metricType,
    target: values.target,
    activationTarget: values.activationTarget,
    useCachedMetrics,
    source: values.source,
  };
}

const parsers: Record<TriggerType, (reader: ManifestReader, metadata: MetadataReader) => TriggerValues | undefined> = {
  rabbitmq: parseRabbitmq,
  'azure-servicebus': parseServiceBus,
  'metrics-api': parseMetricsApi,
  prometheus: parsePrometheus,
};

function parseRabbitmq(reader: ManifestReader, metadata: MetadataReader): TriggerValues | undefined {
  const queueName = metadata.string('queueName', true);

  // The host may carry credentials: we only look at its scheme, never keep it.
  let protocol = metadata.string('protocol') ?? 'auto';
  if (!['auto', 'http', 'amqp'].includes(protocol)) {
    reader.invalid(metadata.path('protocol'), `must be auto, http or amqp, got ${JSON.stringify(protocol)}`);
    return undefined;
  }
  const host = metadata.string('host');
  if (protocol === 'auto' && host !== undefined) {
    const scheme = /^([a-z]+):\/\//i.exec(host)?.[1]?.toLowerCase();
    if (scheme === 'amqp' || scheme === 'amqps') protocol = 'amqp';
    else if (scheme === 'http' || scheme === 'https') protocol = 'http';
    else reader.invalid(metadata.path('host'), 'must be a URL with an amqp(s):// or http(s):// scheme');
  }

  const mode = metadata.string('mode');
  const hasValue = metadata.has('value');
  const legacyQueueLength = metadata.float('queueLength');
  let target: number = TRIGGER_DEFAULTS.rabbitmqQueueLength;
  if (legacyQueueLength !== undefined) {
    if (mode !== undefined || hasValue) {
      reader.invalid(metadata.path('queueLength'), 'is deprecated and cannot be combined with mode/value');
    } else {
      target = legacyQueueLength;
      reader.warn(metadata.path('queueLength'), 'is deprecated; use mode: QueueLength and value');
    }
  } else if (mode === undefined && hasValue) {
    reader.invalid(metadata.path('value'), 'needs mode (QueueLength)');
  } else if (mode !== undefined) {
    if (RABBITMQ_RATE_MODES.includes(mode)) {
      reader.unsupported(metadata.path('mode'), `${mode} is not modelled (only QueueLength)`);
      return undefined;
    }
    if (mode !== 'QueueLength') {
      reader.invalid(
        metadata.path('mode'),
        `must be QueueLength, MessageRate, DeliverGetRate, PublishedToDeliveredRatio or ExpectedQueueConsumptionTime, got ${JSON.stringify(mode)}`,
      );
      return undefined;
    }
    const value = metadata.float('value', true);
    if (value !== undefined) target = value;
  }

  if (metadata.boolean('useRegex') === true) {
    reader.unsupported(metadata.path('useRegex'), 'several queues per trigger are not modelled');
  }
  const excludeUnacknowledged = metadata.boolean('excludeUnacknowledged') ?? false;
  if (excludeUnacknowledged && protocol === 'amqp') {
    reader.invalid(metadata.path('excludeUnacknowledged'), 'works only with protocol http');
  }
  const includeUnacked = excludeUnacknowledged ? false : protocol === 'http' ? true : protocol === 'amqp' ? false : null;
  if (includeUnacked === null) {
    reader.warn(
      metadata.path('protocol'),
      'auto with the host in an auth or env source: the count is ready+unacked over http, ready only over amqp; set protocol explicitly',
    );
  }
  if (queueName === undefined) return undefined;
  return {
    target,
    activationTarget: metadata.float('activationValue') ?? TRIGGER_DEFAULTS.activation,
    metricSuffix: `rabbitmq-${queueName}`,
    source: {
      getter: 'rabbitmq.queueLength',
      queueName,
      protocol: protocol as 'auto' | 'http' | 'amqp',
      includeUnacked,
      vhostName: metadata.string('vhostName') ?? null,
    },
  };
}

function parseServiceBus(reader: ManifestReader, metadata: MetadataReader): TriggerValues | undefined {
  const queueName = metadata.string('queueName') ?? null;
  const topicName = metadata.string('topicName') ?? null;
  const subscriptionName = metadata.string('subscriptionName') ?? null;
  if (queueName !== null && topicName !== null) {
    reader.invalid(metadata.path('queueName'), 'set queueName or topicName + subscriptionName, not both');
    return undefined;
  }
  if (queueName === null && (topicName === null || subscriptionName === null)) {
    reader.invalid(metadata.path('queueName'), 'queueName, or topicName and subscriptionName, is required');
    return undefined;
  }
  if (metadata.boolean('useRegex') === true) {
    reader.unsupported(metadata.path('useRegex'), 'several entities per trigger are not modelled');
  }
  return {
    target: metadata.integer('messageCount') ?? TRIGGER_DEFAULTS.servicebusMessageCount,
    activationTarget: metadata.integer('activationMessageCount') ?? TRIGGER_DEFAULTS.activation,
    metricSuffix: `azure-servicebus-${queueName ?? topicName}`,
    source: {
      getter: 'azure-servicebus.activeMessageCount',
      queueName,
      topicName,
      subscriptionName,
      namespace: metadata.string('namespace') ?? null,
    },
  };
}

function parseMetricsApi(reader: ManifestReader, metadata: MetadataReader): TriggerValues | undefined {
  const url = metadata.string('url', true);
  const valueLocation = metadata.string('valueLocation', true);
  const target = metadata.float('targetValue', true);
  const format = metadata.string('format') ?? 'json';
  if (!['json', 'xml', 'yaml', 'prometheus'].includes(format)) {
    reader.invalid(metadata.path('format'), `must be json, xml, yaml or prometheus, got ${JSON.stringify(format)}`);
  }
  if (metadata.boolean('aggregateFromKubeServiceEndpoints') === true) {
    reader.unsupported(metadata.path('aggregateFromKubeServiceEndpoints'), 'querying every endpoint of a Service is not modelled');
  }
  if (url === undefined || valueLocation === undefined || target === undefined) return undefined;
  return {
    target,
    activationTarget: metadata.float('activationTargetValue') ?? TRIGGER_DEFAULTS.activation,
    metricSuffix: `metric-api-${valueLocation}`,
    source: { getter: 'metrics-api.value', url, valueLocation, format: format as 'json' | 'xml' | 'yaml' | 'prometheus' },
  };
}

function parsePrometheus(_reader: ManifestReader, metadata: MetadataReader): TriggerValues | undefined {
  const serverAddress = metadata.string('serverAddress', true);
  const query = metadata.string('query', true);
  const target = metadata.float('threshold', true);
  const ignoreNullValues = metadata.boolean('ignoreNullValues') ?? true;
  if (serverAddress === undefined || query === undefined || target === undefined) return undefined;
  return {
    target,
    activationTarget: metadata.float('activationThreshold') ?? TRIGGER_DEFAULTS.activation,
    metricSuffix: 'prometheus',
    source: { getter: 'prometheus.query', serverAddress, query, ignoreNullValues },
  };
}
