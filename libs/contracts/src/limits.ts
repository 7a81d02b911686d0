/** Service Bus standard tier caps a message at 256 KB; the filler stays well below it so headers and the envelope fit. */
export const MAX_PAYLOAD_BYTES = 192 * 1024;
export const MAX_LOAD_COUNT = 1_000_000;
export const MAX_RATE_PER_SECOND = 100_000;
export const MAX_WORK_DURATION_MS = 15 * 60 * 1000;
export const CONTRACT_VERSION = 1;
