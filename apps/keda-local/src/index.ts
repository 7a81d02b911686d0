export { loadConfig, parseArgs, USAGE, type Config, type DemoConfig, type Mode } from './config.ts';
export { runDemo, type DemoDeps, type DemoOutcome } from './demo.ts';
export { RunEndDetector, SETTLE_MS, type RunEnd, type RunObservation } from './run-end.ts';
export { readOverlay, loadObjects, mergePatch, OverlayError, type OverlayScaling } from './manifests.ts';
export { reportFromRun, reportFromPrometheus } from './report.ts';
export { createTriggerReader, localMetricsUrl, valueAt } from './triggers.ts';
