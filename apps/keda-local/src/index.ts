export { loadConfig, parseArgs, USAGE, type Config, type DemoConfig, type Mode } from './config.ts';
export { runDemo, countDuplicates, type DemoDeps, type DemoOutcome } from './demo.ts';
export { readOverlay, loadObjects, mergePatch, OverlayError, type OverlayScaling } from './manifests.ts';
export { reportFromRun, reportFromPrometheus } from './report.ts';
export { createTriggerReader, localMetricsUrl, valueAt } from './triggers.ts';
