export { startAzurite, type AzuriteInstance, type StartAzuriteOptions } from './azurite.ts';
