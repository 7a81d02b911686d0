/**
 * Builds the SDK's two clients from a validated config: `ServiceBusClient` (AMQP: send, receive,
 * settle, renew, peek) and `ServiceBusAdministrationClient` (HTTPS ATOM: queue runtime properties).
 * Either from a SAS connection string, or passwordless from a fully qualified namespace with
 * `DefaultAzureCredential` (what AKS workload identity gives a pod).
 */
import { ServiceBusAdministrationClient, ServiceBusClient, type ServiceBusClientOptions } from '@azure/service-bus';
import type { TokenCredential } from '@azure/identity';
import { ConfigError } from '@surge/core';
import type { ServiceBusQueueConfig } from '../config.ts';

export interface ServiceBusClients {
  client: ServiceBusClient;
  admin: ServiceBusAdministrationClient;
  /** Host (and port) of the namespace: safe to log, unlike the connection string. */
  endpoint: string;
  /** The connection string targets a development emulator (plain TCP, no TLS). */
  emulator: boolean;
}

/** Keys of a connection string, case-insensitive, values untouched. Never log the result. */
function connectionStringParts(value: string): Map<string, string> {
  return new Map(
    value
      .split(';')
      .filter((p) => p.includes('='))
      .map((p) => [p.slice(0, p.indexOf('=')).trim().toLowerCase(), p.slice(p.indexOf('=') + 1).trim()] as const),
  );
}

/**
 * @azure/service-bus 7.9.5 always sends ATOM requests over https, even for the development emulator
 * (later SDK versions switch to http there, Azure/azure-sdk-for-js#32771). Emulators (and Surge's test
 * peer) serve them over plain http, so for `UseDevelopmentEmulator=true` only, the URL is rewritten.
 */
function useHttpForEmulator(admin: ServiceBusAdministrationClient): void {
  admin.pipeline.addPolicy({
    name: 'surgeEmulatorHttp',
    sendRequest(request, next) {
      request.url = request.url.replace(/^https:/, 'http:');
      request.allowInsecureConnection = true;
      return next(request);
    },
  });
}

export async function createServiceBusClients(
  config: ServiceBusQueueConfig,
  options: ServiceBusClientOptions = {},
): Promise<ServiceBusClients> {
  if (config.connectionString !== undefined) {
    const parts = connectionStringParts(config.connectionString);
    const endpoint = (parts.get('endpoint') ?? '').replace(/^sb:\/\//i, '').replace(/\/+$/, '');
    if (!endpoint)
      throw new ConfigError(
        'SERVICEBUS_CONNECTION_STRING',
        'Endpoint=sb://<namespace>/;SharedAccessKeyName=<name>;SharedAccessKey=<key>',
        'a value without an Endpoint',
      );
    const emulator = (parts.get('usedevelopmentemulator') ?? '').toLowerCase() === 'true';
    let client: ServiceBusClient;
    let admin: ServiceBusAdministrationClient;
    try {
      client = new ServiceBusClient(config.connectionString, options);
      admin = new ServiceBusAdministrationClient(config.connectionString);
    } catch {
      // The SDK's own message could quote the value; ours names the variable only.
      throw new ConfigError(
        'SERVICEBUS_CONNECTION_STRING',
        'Endpoint=sb://<namespace>/;SharedAccessKeyName=<name>;SharedAccessKey=<key>',
        'a value the Service Bus SDK rejects',
      );
    }
    if (emulator) useHttpForEmulator(admin);
    return { client, admin, endpoint, emulator };
  }
  if (config.namespace !== undefined) {
    // Loaded only on this path: @azure/identity (MSAL) is heavy, and a SAS-configured pod never needs it.
    const { DefaultAzureCredential } = await import('@azure/identity');
    const credential: TokenCredential = new DefaultAzureCredential();
    return {
      client: new ServiceBusClient(config.namespace, credential, options),
      admin: new ServiceBusAdministrationClient(config.namespace, credential),
      endpoint: config.namespace,
      emulator: false,
    };
  }
  throw new ConfigError(
    'SERVICEBUS_CONNECTION_STRING',
    'a SAS connection string, or SERVICEBUS_NAMESPACE=<name>.servicebus.windows.net for passwordless sign-in',
  );
}
