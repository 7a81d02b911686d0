export { rabbitMqGlobalSetup as default } from '@surge/testing';
