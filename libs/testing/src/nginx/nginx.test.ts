import { describe, expect, it } from 'vitest';
import { portAnswers } from '../rabbitmq/ports.ts';
import { MALFORMED_STATUS_BODY, startNginx } from './nginx.ts';

describe('startNginx', () => {
  it('serves stub_status and a malformed page on loopback, holds connections, and stops', async () => {
    const nginx = await startNginx();
    let stopped = false;
    try {
      expect(nginx.statusUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/stub_status$/);
      expect(await (await fetch(nginx.statusUrl)).text()).toMatch(/^Active connections: \d+ \nserver accepts handled requests\n/);
      expect(await (await fetch(nginx.malformedStatusUrl)).text()).toBe(MALFORMED_STATUS_BODY);
      const before = await nginx.activeConnections();
      const held = await nginx.holdConnections(5);
      expect(await nginx.activeConnections()).toBe(before + 5);
      await held.release();
      await expect.poll(() => nginx.activeConnections()).toBe(before);
      await nginx.stop();
      stopped = true;
      expect(nginx.running).toBe(false);
      expect(await portAnswers(nginx.port)).toBe(false);
    } finally {
      if (!stopped) await nginx.stop();
    }
  }, 60_000);
});
