/**
 * Validated, defaulted specs: what the decision functions consume. Produced by `parseScaledObject` /
 * `parseScaledJob` from a manifest, or built directly in tests. Times are seconds, as in the manifests.
 */

/** KEDA's defaults (docs/keda-semantics.md#scaledobject-defaults and #scaledjob-fields-and-defaults). */
export const KEDA_DEFAULTS = {
  pollingIntervalSeconds: 30,
  cooldownPeriodSeconds: 300,
  initialCooldownPeriodSeconds: 0,
  minReplicaCount: 0,
  maxReplicaCount: 100,
  successfulJobsHistoryLimit: 100,
  failedJobsHistoryLimit: 100,
} as const;

/** kube-controller-manager flags the HPA runs with; they are cluster settings, not manifest fields. */
export interface HpaControllerOptions {
  /** `--horizontal-pod-autoscaler-sync-period`, default 15 s. */
  readonly syncPeriodSeconds: number;
  /** `--horizontal-pod-autoscaler-tolerance`, default 0.1. */
  readonly tolerance: number;
  /** `--horizontal-pod-autoscaler-downscale-stabilization`, default 300 s. */
  readonly downscaleStabilizationSeconds: number;
}

export const HPA_CONTROLLER_DEFAULTS: HpaControllerOptions = {
  syncPeriodSeconds: 15,
  tolerance: 0.1,
  downscaleStabilizationSeconds: 300,
};

export type TriggerType = 'rabbitmq' | 'azure-servicebus' | 'metrics-api' | 'prometheus';
export type MetricTargetType = 'AverageValue' | 'Value';

/**
 * What number the caller must read for a trigger (the `getter`), with the addressing it needs. Reading
 * the metric is the caller's job; this says which figure KEDA's scaler would use.
 */
export type MetricSource =
  | {
      readonly getter: 'rabbitmq.queueLength';
      readonly queueName: string;
      readonly protocol: 'http' | 'amqp' | 'auto';
      /**
       * true: count ready + unacked (`messages`, http without `excludeUnacknowledged`); false: ready only
       * (`messages_ready`: amqp, or http with `excludeUnacknowledged`); null: protocol `auto` with a host we
       * cannot see (auth or env), so the caller must know what its host is.
       */
      readonly includeUnacked: boolean | null;
      readonly vhostName: string | null;
    }
  | {
      readonly getter: 'azure-servicebus.activeMessageCount';
      readonly queueName: string | null;
      readonly topicName: string | null;
      readonly subscriptionName: string | null;
      readonly namespace: string | null;
    }
  | {
      readonly getter: 'metrics-api.value';
      readonly url: string;
      readonly valueLocation: string;
      readonly format: 'json' | 'xml' | 'yaml' | 'prometheus';
    }
  | {
      readonly getter: 'prometheus.query';
      readonly serverAddress: string;
      readonly query: string;
      /** Empty result or NaN reads as 0 when true (KEDA's default), as an error when false. */
      readonly ignoreNullValues: boolean;
    };

export interface TriggerSpec {
  readonly index: number;
  readonly type: TriggerType;
  /** `triggers[].name` (used by scalingModifiers in KEDA), or null. */
  readonly name: string | null;
  /** The External metric name KEDA gives the HPA: `s<index>-<scaler-specific>`. */
  readonly metricName: string;
  /** ScaledJobs forbid `metricType`; their targets are always average values. */
  readonly metricType: MetricTargetType;
  /** Threshold: per replica for AverageValue, total for Value. Always > 0. */
  readonly target: number;
  /** A trigger is active when its raw value is strictly greater than this (default 0). */
  readonly activationTarget: number;
  /** With `useCachedMetrics` the HPA is served the last poll's value instead of a live read. */
  readonly useCachedMetrics: boolean;
  readonly source: MetricSource;
}

export type SelectPolicy = 'Max' | 'Min' | 'Disabled';

export interface HpaScalingPolicy {
  readonly type: 'Pods' | 'Percent';
  readonly value: number;
  readonly periodSeconds: number;
}

export interface HpaScalingRules {
  /** null (scaleDown only): the controller's `downscaleStabilizationSeconds` applies. */
  readonly stabilizationWindowSeconds: number | null;
  readonly selectPolicy: SelectPolicy;
  readonly policies: readonly HpaScalingPolicy[];
  /** Per-direction tolerance (`HPAConfigurableTolerance` gate); null: the controller flag. */
  readonly tolerance: number | null;
}

export interface HpaBehavior {
  readonly scaleUp: HpaScalingRules;
  readonly scaleDown: HpaScalingRules;
}

export interface HpaSpec {
  readonly name: string;
  /** KEDA sets `minReplicas = min > 0 ? min : 1`. */
  readonly minReplicas: number;
  readonly maxReplicas: number;
  /** null: `behavior` unset, the HPA's legacy normalisation (scale-up limit, 300 s window). */
  readonly behavior: HpaBehavior | null;
}

export interface ScaledObjectSpec {
  readonly kind: 'ScaledObject';
  readonly name: string;
  readonly namespace: string | null;
  readonly scaleTargetRef: {
    readonly name: string;
    readonly kind: string;
    readonly apiVersion: string;
    readonly envSourceContainerName: string | null;
  };
  readonly pollingIntervalSeconds: number;
  readonly cooldownPeriodSeconds: number;
  readonly initialCooldownPeriodSeconds: number;
  readonly minReplicaCount: number;
  readonly maxReplicaCount: number;
  readonly idleReplicaCount: number | null;
  readonly hpa: HpaSpec;
  readonly triggers: readonly TriggerSpec[];
}

export type ScaledJobStrategy = 'default' | 'custom' | 'accurate' | 'eager';
export type MultipleScalersCalculation = 'max' | 'min' | 'avg' | 'sum';

export interface ScaledJobSpec {
  readonly kind: 'ScaledJob';
  readonly name: string;
  readonly namespace: string | null;
  readonly pollingIntervalSeconds: number;
  /** Lowered to `maxReplicaCount` when the manifest set both and min > max, as KEDA does. */
  readonly minReplicaCount: number;
  /** The manifest's value, or KEDA's default 100 when unset. */
  readonly maxReplicaCount: number;
  /**
   * The queue-driven pool, KEDA's `ScaledJob.MaxReplicaCount()`: max − min when maxReplicaCount is
   * set and min <= max; max itself when min > max; 100 (min not subtracted) when maxReplicaCount is unset.
   */
  readonly maxParallelJobs: number;
  readonly successfulJobsHistoryLimit: number;
  readonly failedJobsHistoryLimit: number;
  readonly scalingStrategy: {
    /** The strategy KEDA actually runs: `custom` with an unparsable percentage becomes `default`. */
    readonly strategy: ScaledJobStrategy;
    readonly customScalingQueueLengthDeduction: number;
    readonly customScalingRunningJobPercentage: number;
    readonly multipleScalersCalculation: MultipleScalersCalculation;
    /** Pod conditions that end "pending" for a Job (empty: a Running or Succeeded pod ends it). */
    readonly pendingPodConditions: readonly string[];
  };
  readonly triggers: readonly TriggerSpec[];
}

/** One metric read for one trigger, in trigger order. An error makes the trigger inactive and counts as `isError`. */
export type TriggerReading = { readonly value: number } | { readonly error: string };
