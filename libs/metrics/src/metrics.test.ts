import { describe, expect, it } from 'vitest';
import { createRegistry, Counter } from './index.ts';

describe('registry', () => {
  it('is owned by the app and labels its series', async () => {
    const registry = createRegistry({ app: 'a', defaultMetrics: false });
    new Counter({ name: 'surge_test_total', help: 'A test counter.', registers: [registry] }).inc(2);
    const text = await registry.metrics();
    expect(text).toContain('# HELP surge_test_total A test counter.');
    expect(text).toContain('surge_test_total{app="a"} 2');
  });
});
