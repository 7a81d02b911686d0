import type { ResultKey } from './types.ts';

const LOAD_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MESSAGE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The one naming rule for results: `<loadId>/<messageId>.json`, the same in a folder and a container. */
export function resultName(key: ResultKey): string {
  return `${key.loadId}/${key.messageId}.json`;
}

/** The key of a stored name, or undefined for anything that is not a result (temp files, strays). */
export function parseResultName(name: string): ResultKey | undefined {
  const match = /^([^/]+)\/([^/]+)\.json$/.exec(name);
  if (!match) return undefined;
  const [, loadId, messageId] = match as unknown as [string, string, string];
  return LOAD_ID.test(loadId) && MESSAGE_ID.test(messageId) ? { loadId, messageId } : undefined;
}

export function isLoadId(value: string): boolean {
  return LOAD_ID.test(value);
}

export function isMessageId(value: string): boolean {
  return MESSAGE_ID.test(value);
}
