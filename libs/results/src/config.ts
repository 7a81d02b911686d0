/**
 * Validated result-store configuration, the one input of `createResultSink`. Apps call
 * `resultsConfigFromEnv` from their config module with `process.env`; a bad value fails with one
 * line naming the variable and the expected form, and a connection string is never echoed.
 */
import path from 'node:path';
import { ConfigError, readEnum, readOptionalString, readString, readUrl, type Env } from '@surge/core';
import type { ResultsKind } from './types.ts';

export interface LocalResultsConfig {
  kind: 'local';
  /** Folder holding `<loadId>/<messageId>.json`. */
  dir: string;
}

export interface BlobResultsConfig {
  kind: 'blob';
  /** Storage account connection string (key or SAS) — a secret: never logged. */
  connectionString: string | undefined;
  /** `https://<account>.blob.core.windows.net`, used with DefaultAzureCredential (AKS workload identity). */
  accountUrl: string | undefined;
  container: string;
}

export type ResultsConfig = LocalResultsConfig | BlobResultsConfig;

export const RESULTS_KINDS: readonly ResultsKind[] = ['local', 'blob'];
export const DEFAULT_RESULTS_CONTAINER = 'surge-results';

/** Azure container names: 3–63 chars of lowercase letters, digits and single hyphens, starting and ending alphanumeric. */
const CONTAINER_PATTERN = /^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/;

/** Accepts key or SAS connection strings and the emulator shortcut; checks shape only, never echoes the value. */
export function checkStorageConnectionString(value: string, variable = 'AZURE_STORAGE_CONNECTION_STRING'): void {
  const parts = new Map(
    value
      .split(';')
      .filter((p) => p.includes('='))
      .map((p) => [p.slice(0, p.indexOf('=')).trim().toLowerCase(), p.slice(p.indexOf('=') + 1).trim()] as const),
  );
  const expected = 'DefaultEndpointsProtocol=https;AccountName=<name>;AccountKey=<key>;… (or BlobEndpoint=…;SharedAccessSignature=…)';
  if (parts.get('usedevelopmentstorage')?.toLowerCase() === 'true') return;
  const hasAccount = parts.has('accountname') && (parts.has('accountkey') || parts.has('sharedaccesssignature'));
  const hasEndpoint = parts.has('blobendpoint') && (parts.has('accountkey') || parts.has('sharedaccesssignature'));
  if (!hasAccount && !hasEndpoint)
    throw new ConfigError(variable, expected, 'a value without AccountName/BlobEndpoint and a key or signature');
  const endpoint = parts.get('blobendpoint');
  if (endpoint !== undefined && !/^https?:\/\/[^\s;]+$/.test(endpoint))
    throw new ConfigError(variable, expected, 'a BlobEndpoint that is not an http(s) URL');
}

export function resultsConfigFromEnv(env: Env, options: { cwd?: string } = {}): ResultsConfig {
  const kind = readEnum(env, 'RESULTS_KIND', RESULTS_KINDS, 'local');
  if (kind === 'local') {
    return { kind, dir: path.resolve(options.cwd ?? process.cwd(), readString(env, 'RESULTS_DIR', path.join('.surge', 'results'))) };
  }
  const container = readString(env, 'RESULTS_CONTAINER', DEFAULT_RESULTS_CONTAINER);
  if (!CONTAINER_PATTERN.test(container))
    throw new ConfigError(
      'RESULTS_CONTAINER',
      'a container name of 3-63 lowercase letters, digits and single hyphens',
      JSON.stringify(container),
    );
  const connectionString = readOptionalString(env, 'AZURE_STORAGE_CONNECTION_STRING');
  const accountUrlText = readOptionalString(env, 'AZURE_STORAGE_ACCOUNT_URL');
  if (connectionString === undefined && accountUrlText === undefined) {
    throw new ConfigError(
      'AZURE_STORAGE_CONNECTION_STRING',
      'a storage connection string, or AZURE_STORAGE_ACCOUNT_URL=https://<account>.blob.core.windows.net for passwordless sign-in (RESULTS_KIND=blob)',
    );
  }
  if (connectionString !== undefined) {
    checkStorageConnectionString(connectionString);
    return { kind, connectionString, accountUrl: undefined, container };
  }
  const accountUrl = readUrl(env, 'AZURE_STORAGE_ACCOUNT_URL', ['https:', 'http:']);
  if (accountUrl.username || accountUrl.password || accountUrl.search) {
    throw new ConfigError(
      'AZURE_STORAGE_ACCOUNT_URL',
      'an account URL without credentials or a SAS query (use AZURE_STORAGE_CONNECTION_STRING for keys)',
    );
  }
  return { kind, connectionString: undefined, accountUrl: accountUrl.origin + accountUrl.pathname.replace(/\/+$/, ''), container };
}
