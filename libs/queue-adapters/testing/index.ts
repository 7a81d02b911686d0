export { runQueueContractSuite, expectDepthWithin, body, type ContractTarget } from './suite.ts';
