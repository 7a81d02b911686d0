/** Manifest builders shared by this library's tests (not exported from the package). */
import { parseScaledJob, parseScaledObject } from '../src/manifest.ts';
import type { ScaledJobSpec, ScaledObjectSpec } from '../src/spec.ts';

export const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
/** Epoch ms `seconds` after T0. */
export const at = (seconds: number): number => T0 + seconds * 1000;

export const serviceBusTrigger = (metadata: Record<string, string> = {}): Record<string, unknown> => ({
  type: 'azure-servicebus',
  metadata: { queueName: 'surge-work', ...metadata },
});

export const rabbitTrigger = (metadata: Record<string, string> = {}): Record<string, unknown> => ({
  type: 'rabbitmq',
  metadata: { queueName: 'surge-work', protocol: 'http', mode: 'QueueLength', value: '1', ...metadata },
});

export function scaledObjectManifest(spec: Record<string, unknown> = {}, name = 'worker-deployment'): Record<string, unknown> {
  return {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata: { name },
    spec: { scaleTargetRef: { name: 'worker-deployment' }, triggers: [serviceBusTrigger()], ...spec },
  };
}

export function scaledObject(spec: Record<string, unknown> = {}): ScaledObjectSpec {
  return parseScaledObject(scaledObjectManifest(spec)).spec;
}

export function scaledJobManifest(spec: Record<string, unknown> = {}, name = 'worker-job'): Record<string, unknown> {
  return {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledJob',
    metadata: { name },
    spec: {
      jobTargetRef: { template: { spec: { containers: [{ name: 'worker', image: 'surge/worker-job' }] } } },
      triggers: [rabbitTrigger()],
      ...spec,
    },
  };
}

export function scaledJob(spec: Record<string, unknown> = {}): ScaledJobSpec {
  return parseScaledJob(scaledJobManifest(spec)).spec;
}
