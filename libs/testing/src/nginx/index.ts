export { startNginx, MALFORMED_STATUS_BODY, type NginxInstance, type HeldConnections, type StartNginxOptions } from './nginx.ts';
