/**
 * A queue client in a process of its own, for the contract suite's process-level checks.
 * Config arrives as JSON in SURGE_CONTRACT_CONFIG (never on the command line, where `ps` shows it).
 *   hold      — receive one message, print `held <id>`, then wait forever (the parent SIGKILLs it)
 *   roundtrip — send one message, receive it, complete it, close, and let the event loop end by itself
 *   modules   — after the round trip, print the npm packages the process loaded (`modules <json>`)
 */
import { randomUUID } from 'node:crypto';
import { registerHooks } from 'node:module';
import type { QueueConfig } from '../src/index.ts';

const mode = process.argv[2];
// Records every package this process imports by name, so the suite can see which SDKs a backend loads.
const loaded = new Set<string>();
registerHooks({
  resolve(specifier, context, nextResolve) {
    const bare = /^(?:@[^/.][^/]*\/)?[^/.:][^/:]*/.exec(specifier);
    if (bare && !specifier.startsWith('node:'))
      loaded.add(specifier.startsWith('@') ? bare[0].split('/').slice(0, 2).join('/') : bare[0].split('/')[0]!);
    return nextResolve(specifier, context);
  },
});
const { createQueueClient } = await import('../src/index.ts');
const config = JSON.parse(process.env['SURGE_CONTRACT_CONFIG'] ?? '{}') as QueueConfig;
const client = await createQueueClient(config);

if (mode === 'hold') {
  const [delivery] = await client.receive(1, 20_000);
  if (!delivery) {
    process.stdout.write('empty\n');
    process.exit(3);
  }
  process.stdout.write(`held ${delivery.id}\n`);
  setInterval(() => {}, 60_000);
} else if (mode === 'roundtrip' || mode === 'modules') {
  const id = randomUUID();
  await client.send([{ id, body: Buffer.from('{}') }]);
  const [delivery] = await client.receive(1, 20_000);
  if (delivery?.id !== id) throw new Error(`expected ${id}, got ${delivery?.id}`);
  await delivery.complete();
  await client.close();
  process.stdout.write('closed\n');
  if (mode === 'modules') {
    process.stdout.write(`modules ${JSON.stringify([...loaded].sort())}\n`);
  }
  // No process.exit: the parent asserts that nothing keeps the event loop alive.
} else {
  throw new Error(`unknown mode ${mode}`);
}
