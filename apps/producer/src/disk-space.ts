import { statfs } from 'node:fs/promises';
import { HttpError } from './http-errors.ts';

/** The embedded queue shrinks slowly, if ever: a refusal here clears when the queue is drained elsewhere or running loads end. */
const RETRY_AFTER_SECONDS = '30';

/**
 * Refuses a load the embedded queue's filesystem cannot hold: the free space, less what the running
 * loads may still write and what this one would write, must stay at or above `minFreeBytes`.
 * `neededBytes` is read after the filesystem answered, so a load started meanwhile is counted.
 */
export function freeSpaceCheck(dir: string, minFreeBytes: number): (neededBytes: () => number) => Promise<void> {
  return async (neededBytes) => {
    const stats = await statfs(dir);
    const free = stats.bavail * stats.bsize;
    const needed = neededBytes();
    if (free - needed < minFreeBytes) {
      throw new HttpError(
        429,
        'insufficient_storage',
        `the embedded queue's filesystem has ${free} bytes free; the running loads and this one may write ${needed} bytes, which would leave less than PRODUCER_MIN_FREE_BYTES (${minFreeBytes})`,
        { 'retry-after': RETRY_AFTER_SECONDS },
      );
    }
  };
}
