/** Service Bus standard tier caps a message at 256 KB; the filler stays well below it so headers and the envelope fit. */
export const MAX_PAYLOAD_BYTES = 192 * 1024;
export const MAX_LOAD_COUNT = 1_000_000;
export const MAX_RATE_PER_SECOND = 100_000;
/**
 * One message every 100 s. Slower than that no scaler sees a rate (KEDA polls every 30 s and scales
 * in after a 300 s cooldown), and every wait of the producer's token bucket stays far below the
 * 2^31-1 ms a timer can hold.
 */
export const MIN_RATE_PER_SECOND = 0.01;
export const MAX_WORK_DURATION_MS = 15 * 60 * 1000;
export const CONTRACT_VERSION = 1;
