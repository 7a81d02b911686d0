import { SurgeError } from '@surge/core';

/** One problem in a KEDA manifest, located by a dotted path such as `spec.triggers[0].metadata.value`. */
export interface ManifestIssue {
  readonly path: string;
  readonly message: string;
  /** true: valid for KEDA but not modelled by this library; false: KEDA itself would reject or misread it. */
  readonly unsupported: boolean;
}

/**
 * A ScaledObject or ScaledJob that cannot be simulated. Every issue is collected before throwing so an
 * operator fixes the manifest in one pass. `code` is `KEDA_MANIFEST_UNSUPPORTED` when every issue is a
 * feature we do not model, else `KEDA_MANIFEST_INVALID`. Never retryable: the manifest must change.
 */
export class ManifestError extends SurgeError {
  readonly manifest: string;
  readonly issues: readonly ManifestIssue[];

  constructor(manifest: string, issues: readonly ManifestIssue[]) {
    const code = issues.every((issue) => issue.unsupported) ? 'KEDA_MANIFEST_UNSUPPORTED' : 'KEDA_MANIFEST_INVALID';
    super(code, `${manifest}: ${issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`, { retryable: false });
    this.manifest = manifest;
    this.issues = issues;
  }
}

/** The caller passed inputs that do not fit the spec (a programming error in the supervisor, not a runtime condition). */
export class ScalingInputError extends SurgeError {
  constructor(message: string) {
    super('SCALING_INPUT_INVALID', message, { retryable: false });
  }
}
