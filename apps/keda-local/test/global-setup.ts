// One RabbitMQ broker for the whole run (a private node from the Debian package, or RABBITMQ_URL).
export { rabbitMqGlobalSetup as default } from '@surge/testing';
