import { describe, expect, it } from 'vitest';
import { ManifestError, parseKedaManifest, parseKedaYaml, parseScaledJob, parseScaledObject } from './index.ts';
import { rabbitTrigger, scaledJob, scaledJobManifest, scaledObject, scaledObjectManifest, serviceBusTrigger } from '../test/fixtures.ts';

function issuesOf(run: () => unknown): { code: string; paths: string[]; message: string } {
  try {
    run();
  } catch (error) {
    if (error instanceof ManifestError) return { code: error.code, paths: error.issues.map((i) => i.path), message: error.message };
    throw error;
  }
  throw new Error('expected a ManifestError');
}

describe('ScaledObject fields and defaults', () => {
  it('applies KEDA defaults: pollingInterval 30, cooldownPeriod 300, initialCooldownPeriod 0, min 0, max 100, HPA min max(min,1), behavior nil', () => {
    const spec = scaledObject();
    expect(spec).toMatchObject({
      pollingIntervalSeconds: 30,
      cooldownPeriodSeconds: 300,
      initialCooldownPeriodSeconds: 0,
      minReplicaCount: 0,
      maxReplicaCount: 100,
      idleReplicaCount: null,
      scaleTargetRef: { name: 'worker-deployment', kind: 'Deployment', apiVersion: 'apps/v1', envSourceContainerName: null },
      hpa: { name: 'keda-hpa-worker-deployment', minReplicas: 1, maxReplicas: 100, behavior: null },
    });
    expect(spec.triggers[0]).toMatchObject({ metricType: 'AverageValue', activationTarget: 0, useCachedMetrics: false });
  });

  it('HPA minReplicas = min when min > 0, and the HPA name can be overridden', () => {
    const spec = scaledObject({
      minReplicaCount: 3,
      maxReplicaCount: 7,
      advanced: { horizontalPodAutoscalerConfig: { name: 'custom-hpa' } },
    });
    expect(spec.hpa).toMatchObject({ name: 'custom-hpa', minReplicas: 3, maxReplicas: 7 });
  });

  it('rejects min > max, max < 1, pollingInterval < 1, idle >= min, and non-integers, all in one error', () => {
    const failure = issuesOf(() =>
      parseScaledObject(
        scaledObjectManifest({ minReplicaCount: 5, maxReplicaCount: 2, pollingInterval: 0, idleReplicaCount: 5, cooldownPeriod: '300' }),
      ),
    );
    expect(failure.code).toBe('KEDA_MANIFEST_INVALID');
    expect(failure.paths).toEqual(
      expect.arrayContaining(['spec.minReplicaCount', 'spec.pollingInterval', 'spec.idleReplicaCount', 'spec.cooldownPeriod']),
    );
    expect(issuesOf(() => parseScaledObject(scaledObjectManifest({ maxReplicaCount: 0 }))).paths).toEqual(['spec.maxReplicaCount']);
  });

  it('metricType Value is kept; Utilization is rejected for external scalers', () => {
    expect(scaledObject({ triggers: [{ ...serviceBusTrigger(), metricType: 'Value' }] }).triggers[0]?.metricType).toBe('Value');
    const failure = issuesOf(() =>
      parseScaledObject(scaledObjectManifest({ triggers: [{ ...serviceBusTrigger(), metricType: 'Utilization' }] })),
    );
    expect(failure.paths).toEqual(['spec.triggers[0].metricType']);
  });

  it('idleReplicaCount 0 below min is accepted', () => {
    expect(scaledObject({ minReplicaCount: 2, idleReplicaCount: 0 }).idleReplicaCount).toBe(0);
  });

  it('unsupported features fail with KEDA_MANIFEST_UNSUPPORTED, or become warnings with allowUnsupported', () => {
    const manifest = scaledObjectManifest({
      fallback: { failureThreshold: 3, replicas: 2 },
      advanced: { scalingModifiers: { formula: 'a + b' } },
    });
    (manifest['metadata'] as Record<string, unknown>)['annotations'] = { 'autoscaling.keda.sh/paused': 'true' };
    const failure = issuesOf(() => parseScaledObject(manifest));
    expect(failure.code).toBe('KEDA_MANIFEST_UNSUPPORTED');
    expect(failure.paths).toEqual(['metadata.annotations.autoscaling.keda.sh/paused', 'spec.fallback', 'spec.advanced.scalingModifiers']);
    const lenient = parseScaledObject(manifest, { allowUnsupported: true });
    expect(lenient.warnings).toHaveLength(3);
    expect(lenient.warnings[1]).toMatch(/fallback.*ignored/);
  });

  it('an unknown trigger type is unsupported, a missing one invalid', () => {
    expect(issuesOf(() => parseScaledObject(scaledObjectManifest({ triggers: [{ type: 'kafka', metadata: {} }] }))).code).toBe(
      'KEDA_MANIFEST_UNSUPPORTED',
    );
    expect(issuesOf(() => parseScaledObject(scaledObjectManifest({ triggers: [] }))).paths).toEqual(['spec.triggers']);
    expect(issuesOf(() => parseScaledObject(scaledObjectManifest({ triggers: [{ metadata: {} }] }))).paths).toEqual([
      'spec.triggers[0].type',
    ]);
  });

  it('names the manifest and each field in the message', () => {
    const failure = issuesOf(() => parseScaledObject(scaledObjectManifest({ scaleTargetRef: {} })));
    expect(failure.message).toBe('ScaledObject/worker-deployment: spec.scaleTargetRef.name: is required');
  });
});

describe('HPA behavior defaults (applied by the API server)', () => {
  it('any behavior switches to the behaviour path, with scaleUp 0 s / Pods 4 + Percent 100 per 15 s / Max and scaleDown nil / Percent 100 per 15 s / Max', () => {
    const spec = scaledObject({
      advanced: { horizontalPodAutoscalerConfig: { behavior: { scaleDown: { stabilizationWindowSeconds: 60 } } } },
    });
    expect(spec.hpa.behavior).toEqual({
      scaleUp: {
        stabilizationWindowSeconds: 0,
        selectPolicy: 'Max',
        policies: [
          { type: 'Pods', value: 4, periodSeconds: 15 },
          { type: 'Percent', value: 100, periodSeconds: 15 },
        ],
        tolerance: null,
      },
      scaleDown: {
        stabilizationWindowSeconds: 60,
        selectPolicy: 'Max',
        policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
        tolerance: null,
      },
    });
  });

  it('explicit policies replace the defaults; invalid ones are reported', () => {
    const spec = scaledObject({
      advanced: {
        horizontalPodAutoscalerConfig: {
          behavior: { scaleUp: { selectPolicy: 'Min', policies: [{ type: 'Pods', value: 2, periodSeconds: 30 }] } },
        },
      },
    });
    expect(spec.hpa.behavior?.scaleUp).toMatchObject({ selectPolicy: 'Min', policies: [{ type: 'Pods', value: 2, periodSeconds: 30 }] });
    expect(spec.hpa.behavior?.scaleDown.stabilizationWindowSeconds).toBeNull();

    const failure = issuesOf(() =>
      parseScaledObject(
        scaledObjectManifest({
          advanced: {
            horizontalPodAutoscalerConfig: {
              behavior: {
                scaleUp: { stabilizationWindowSeconds: 3601, policies: [{ type: 'Nodes', value: 0, periodSeconds: 1801 }] },
                scaleDown: { selectPolicy: 'Sometimes' },
              },
            },
          },
        }),
      ),
    );
    expect(failure.paths).toEqual([
      'spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp.stabilizationWindowSeconds',
      'spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp.policies[0].type',
      'spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp.policies[0].value',
      'spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp.policies[0].periodSeconds',
      'spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.selectPolicy',
    ]);
  });
});

describe('triggers', () => {
  it('azure-servicebus: messageCount 5 and activationMessageCount 0 by default; reads the active message count', () => {
    const [trigger] = scaledObject().triggers;
    expect(trigger).toMatchObject({
      type: 'azure-servicebus',
      metricName: 's0-azure-servicebus-surge-work',
      target: 5,
      activationTarget: 0,
      source: { getter: 'azure-servicebus.activeMessageCount', queueName: 'surge-work', topicName: null },
    });
    const topic = scaledObject({
      triggers: [
        {
          type: 'azure-servicebus',
          metadata: { topicName: 'orders', subscriptionName: 'surge', messageCount: '10', activationMessageCount: '2' },
        },
      ],
    }).triggers[0];
    expect(topic).toMatchObject({
      target: 10,
      activationTarget: 2,
      metricName: 's0-azure-servicebus-orders',
      source: { subscriptionName: 'surge' },
    });
  });

  it('azure-servicebus: needs a queue or a topic + subscription, not both; counts are integers', () => {
    expect(
      issuesOf(() => parseScaledObject(scaledObjectManifest({ triggers: [{ type: 'azure-servicebus', metadata: { topicName: 't' } }] })))
        .paths,
    ).toEqual(['spec.triggers[0].metadata.queueName']);
    expect(
      issuesOf(() => parseScaledObject(scaledObjectManifest({ triggers: [serviceBusTrigger({ topicName: 't', subscriptionName: 's' })] })))
        .paths,
    ).toEqual(['spec.triggers[0].metadata.queueName']);
    expect(
      issuesOf(() => parseScaledObject(scaledObjectManifest({ triggers: [serviceBusTrigger({ messageCount: '2.5' })] }))).paths,
    ).toEqual(['spec.triggers[0].metadata.messageCount']);
  });

  it('rabbitmq: no mode/value means QueueLength 20; value without mode is an error; queueLength is the deprecated form', () => {
    const plain = scaledObject({
      triggers: [{ type: 'rabbitmq', metadata: { queueName: 'q', host: 'http://guest:guest@127.0.0.1:15672/' } }],
    });
    expect(plain.triggers[0]).toMatchObject({
      target: 20,
      metricName: 's0-rabbitmq-q',
      source: { getter: 'rabbitmq.queueLength', protocol: 'http', includeUnacked: true },
    });
    expect(
      issuesOf(() =>
        parseScaledObject(scaledObjectManifest({ triggers: [{ type: 'rabbitmq', metadata: { queueName: 'q', value: '5' } }] })),
      ).paths,
    ).toEqual(['spec.triggers[0].metadata.value']);
    const legacy = parseScaledObject(
      scaledObjectManifest({ triggers: [{ type: 'rabbitmq', metadata: { queueName: 'q', queueLength: '7', protocol: 'http' } }] }),
    );
    expect(legacy.spec.triggers[0]?.target).toBe(7);
    expect(legacy.warnings[0]).toMatch(/deprecated/);
  });

  it('rabbitmq: amqp counts ready only; http counts ready + unacked unless excludeUnacknowledged; auto follows the host scheme', () => {
    const read = (metadata: Record<string, string>) => scaledObject({ triggers: [rabbitTrigger(metadata)] }).triggers[0]?.source;
    expect(read({ protocol: 'amqp' })).toMatchObject({ protocol: 'amqp', includeUnacked: false });
    expect(read({ protocol: 'http', excludeUnacknowledged: 'true' })).toMatchObject({ includeUnacked: false });
    expect(read({ protocol: 'auto', host: 'amqps://u:p@broker:5671/vhost' })).toMatchObject({ protocol: 'amqp', includeUnacked: false });
    const unresolved = parseScaledObject(scaledObjectManifest({ triggers: [rabbitTrigger({ protocol: 'auto' })] }));
    expect(unresolved.spec.triggers[0]?.source).toMatchObject({ protocol: 'auto', includeUnacked: null });
    expect(unresolved.warnings.join()).toMatch(/set protocol explicitly/);
    expect(
      issuesOf(() =>
        parseScaledObject(scaledObjectManifest({ triggers: [rabbitTrigger({ protocol: 'amqp', excludeUnacknowledged: 'true' })] })),
      ).paths,
    ).toEqual(['spec.triggers[0].metadata.excludeUnacknowledged']);
  });

  it('rabbitmq: rate modes are unsupported, unknown modes invalid; activationValue is a float', () => {
    expect(issuesOf(() => parseScaledObject(scaledObjectManifest({ triggers: [rabbitTrigger({ mode: 'MessageRate' })] }))).code).toBe(
      'KEDA_MANIFEST_UNSUPPORTED',
    );
    expect(issuesOf(() => parseScaledObject(scaledObjectManifest({ triggers: [rabbitTrigger({ mode: 'Depth' })] }))).code).toBe(
      'KEDA_MANIFEST_INVALID',
    );
    expect(scaledObject({ triggers: [rabbitTrigger({ activationValue: '2.5' })] }).triggers[0]?.activationTarget).toBe(2.5);
  });

  it('prometheus: serverAddress, query and threshold are required; activationThreshold 0 and ignoreNullValues true by default', () => {
    const trigger = scaledObject({
      triggers: [
        { type: 'prometheus', metadata: { serverAddress: 'http://127.0.0.1:9090', query: 'sum(surge_queue_ready)', threshold: '10' } },
      ],
    }).triggers[0];
    expect(trigger).toMatchObject({
      metricName: 's0-prometheus',
      target: 10,
      activationTarget: 0,
      source: { getter: 'prometheus.query', ignoreNullValues: true },
    });
    expect(
      issuesOf(() => parseScaledObject(scaledObjectManifest({ triggers: [{ type: 'prometheus', metadata: { query: 'x' } }] }))).paths,
    ).toEqual(['spec.triggers[0].metadata.serverAddress', 'spec.triggers[0].metadata.threshold']);
  });

  it('metrics-api: url, valueLocation and targetValue are required; activationTargetValue 0; json format by default', () => {
    const trigger = scaledObject({
      triggers: [
        {
          type: 'metrics-api',
          metadata: { url: 'http://127.0.0.1:9113/api/queue', valueLocation: 'queue.ready', targetValue: '4', activationTargetValue: '1' },
        },
      ],
    }).triggers[0];
    expect(trigger).toMatchObject({
      metricName: 's0-metric-api-queue-ready',
      target: 4,
      activationTarget: 1,
      source: { getter: 'metrics-api.value', format: 'json', valueLocation: 'queue.ready' },
    });
    expect(
      issuesOf(() =>
        parseScaledObject(
          scaledObjectManifest({
            triggers: [{ type: 'metrics-api', metadata: { url: 'http://x', valueLocation: 'v', targetValue: '0' } }],
          }),
        ),
      ).paths,
    ).toEqual(['spec.triggers[0].metadata']);
  });

  it('metric names are positional: s<index>-…', () => {
    const spec = scaledObject({ triggers: [serviceBusTrigger(), rabbitTrigger()] });
    expect(spec.triggers.map((t) => t.metricName)).toEqual(['s0-azure-servicebus-surge-work', 's1-rabbitmq-surge-work']);
  });
});

describe('ScaledJob fields and defaults', () => {
  it('applies defaults: pollingInterval 30, min 0, max 100, history 100/100, strategy default, calculation max', () => {
    expect(scaledJob()).toMatchObject({
      pollingIntervalSeconds: 30,
      minReplicaCount: 0,
      maxReplicaCount: 100,
      successfulJobsHistoryLimit: 100,
      failedJobsHistoryLimit: 100,
      scalingStrategy: { strategy: 'default', multipleScalersCalculation: 'max', pendingPodConditions: [] },
    });
  });

  it('lowers min to max when min > max, and the pool is max itself (KEDA MaxReplicaCount())', () => {
    const parsed = parseScaledJob(scaledJobManifest({ minReplicaCount: 8, maxReplicaCount: 5 }));
    expect(parsed.spec).toMatchObject({ minReplicaCount: 5, maxReplicaCount: 5, maxParallelJobs: 5 });
    expect(parsed.warnings[0]).toMatch(/lowers it to 5/);
  });

  it('maxReplicaCount unset: the pool is the default 100 with min not subtracted, and min is kept', () => {
    expect(scaledJob({ minReplicaCount: 10 })).toMatchObject({ minReplicaCount: 10, maxReplicaCount: 100, maxParallelJobs: 100 });
    expect(scaledJob({ minReplicaCount: 150 })).toMatchObject({ minReplicaCount: 150, maxParallelJobs: 100 });
    expect(scaledJob({ minReplicaCount: 2, maxReplicaCount: 10 })).toMatchObject({ maxParallelJobs: 8 });
  });

  it('rejects maxReplicaCount 0 (the CRD minimum is 1)', () => {
    expect(issuesOf(() => parseScaledJob(scaledJobManifest({ maxReplicaCount: 0 }))).paths).toEqual(['spec.maxReplicaCount']);
  });

  it('custom with an unparsable customScalingRunningJobPercentage silently falls back to default (we warn)', () => {
    const parsed = parseScaledJob(
      scaledJobManifest({
        scalingStrategy: { strategy: 'custom', customScalingQueueLengthDeduction: 1, customScalingRunningJobPercentage: 'half' },
      }),
    );
    expect(parsed.spec.scalingStrategy.strategy).toBe('default');
    expect(parsed.warnings.join()).toMatch(/falls back to strategy default/);
    const custom = scaledJob({
      scalingStrategy: { strategy: 'custom', customScalingQueueLengthDeduction: 1, customScalingRunningJobPercentage: '0.5' },
    });
    expect(custom.scalingStrategy).toMatchObject({
      strategy: 'custom',
      customScalingQueueLengthDeduction: 1,
      customScalingRunningJobPercentage: 0.5,
    });
  });

  it('metricType on a ScaledJob trigger is an error; jobTargetRef is required; unknown strategies are rejected', () => {
    expect(
      issuesOf(() => parseScaledJob(scaledJobManifest({ triggers: [{ ...rabbitTrigger(), metricType: 'AverageValue' }] }))).paths,
    ).toEqual(['spec.triggers[0].metricType']);
    expect(issuesOf(() => parseScaledJob(scaledJobManifest({ jobTargetRef: undefined }))).paths).toEqual(['spec.jobTargetRef']);
    expect(
      issuesOf(() => parseScaledJob(scaledJobManifest({ scalingStrategy: { strategy: 'greedy', multipleScalersCalculation: 'median' } })))
        .paths,
    ).toEqual(['spec.scalingStrategy.strategy', 'spec.scalingStrategy.multipleScalersCalculation']);
  });
});

describe('manifest dispatch', () => {
  it('parseKedaYaml picks ScaledObjects and ScaledJobs out of a multi-document stream', () => {
    const text = `
apiVersion: apps/v1
kind: Deployment
metadata: { name: worker-deployment }
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: worker-deployment
spec:
  scaleTargetRef: { name: worker-deployment }
  pollingInterval: 5
  cooldownPeriod: 20
  triggers:
    - type: rabbitmq
      metadata: { queueName: surge-work, protocol: http, mode: QueueLength, value: "10" }
---
apiVersion: keda.sh/v1alpha1
kind: ScaledJob
metadata: { name: worker-job }
spec:
  jobTargetRef: { template: { spec: { containers: [{ name: w, image: i }] } } }
  scalingStrategy: { strategy: accurate }
  triggers:
    - type: azure-servicebus
      metadata: { queueName: surge-work, messageCount: "1" }
`;
    const parsed = parseKedaYaml(text);
    expect(parsed.map((p) => [p.spec.kind, p.spec.name])).toEqual([
      ['ScaledObject', 'worker-deployment'],
      ['ScaledJob', 'worker-job'],
    ]);
    expect(parsed[0]?.spec).toMatchObject({ pollingIntervalSeconds: 5, cooldownPeriodSeconds: 20 });
    expect(parsed[1]?.spec.triggers[0]?.target).toBe(1);
  });

  it('reports YAML syntax errors and unknown kinds', () => {
    expect(issuesOf(() => parseKedaYaml('kind: [unclosed')).code).toBe('KEDA_MANIFEST_INVALID');
    expect(issuesOf(() => parseKedaManifest({ kind: 'Deployment' })).message).toMatch(/must be ScaledObject or ScaledJob/);
  });
});
