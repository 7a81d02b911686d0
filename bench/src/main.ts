/**
 * `npm run bench -- <name> [args]`: each benchmark measures Surge against the raw client in the same
 * run and prints the ratio. Benchmarks live here, never in tests: these machines are shared and noisy.
 */
const benches: Record<string, () => Promise<{ run: (args: string[]) => Promise<void> }>> = {
  queue: () => import('./queue.ts'),
  producer: () => import('./producer.ts'),
  servicebus: () => import('./servicebus.ts'),
  workers: () => import('./workers.ts'),
  tracing: () => import('./tracing.ts'),
  exporter: () => import('./exporter.ts'),
  'keda-local': () => import('./keda-local.ts'),
  images: () => import('./images.ts'),
  simulate: () => import('./simulate.ts'),
  predict: () => import('./predict.ts'),
};

const [name, ...args] = process.argv.slice(2);
const load = name === undefined ? undefined : benches[name];
if (!load) {
  process.stderr.write(`usage: npm run bench -- <${Object.keys(benches).join('|')}> [args]\n`);
  process.exit(2);
}
const bench = await load();
await bench.run(args);
