export { runQueueContractSuite, body, type ContractTarget } from './suite.ts';
