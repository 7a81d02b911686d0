/**
 * The exporter bench's baseline: a bare fastify route answering GET /metrics with fixed bytes (a
 * body captured from the real exporter) — what serving those bytes costs with no work behind them.
 * Run as its own process so it gets an event loop of its own, as the exporter does.
 *
 *   node bench/src/exporter-baseline-server.ts <body-file> <content-type>
 * Prints `{"port":N}` once listening; SIGTERM closes it.
 */
import fs from 'node:fs';
import Fastify from 'fastify';
const [bodyFile, contentType] = process.argv.slice(2);
if (!bodyFile || !contentType) {
    process.stderr.write('usage: exporter-baseline-server.ts <body-file> <content-type>\n');
    process.exit(2);
}
// Bytes, as the exporter sends them: both take fastify's cheapest path for a body.
const body = fs.readFileSync(bodyFile);
const app = Fastify({ logger: false });
app.get('/metrics', (_request, reply) => {
    void reply.header('content-type', contentType).header('cache-control', 'no-store').send(body);
});
await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`${JSON.stringify({ port: app.server.address().port })}\n`);
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
