// What one client can hold on the verifier's HTTP server, over raw sockets: a request whose body
// stalls is answered 408 and closed within the request bound; one address gets at most its
// connection limit (the extra socket is closed, the others keep working); trusted proxies are
// exempt; maxConnections bounds them all. Every wait is on a socket event, with a deadline.
import { once } from 'node:events';
import type { FastifyInstance } from 'fastify';
import { connect, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildVerifierServer, type VerifierServerOptions } from '../src/verifier/http/server.js';
import type { Verifier } from '../src/verifier/verifier.js';
import { openVerifier, useVerifierStack } from './helpers/verifier.js';

const DEADLINE_MS = 3_000;
let verifier: Verifier;
const stack = useVerifierStack(['sqlite']);
beforeAll(async () => {
  verifier = await openVerifier(await stack.newDatabase('sqlite'), stack.smtp);
});
afterAll(async () => {
  await verifier?.close();
});

let app: FastifyInstance | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await app?.close();
  app = undefined;
});

/** A server on a loopback port, and a count of the connections it has accepted so far. */
async function serve(options: VerifierServerOptions) {
  app = await buildVerifierServer(verifier, options);
  const accepted: Socket[] = [];
  app.server.on('connection', (socket: Socket) => accepted.push(socket));
  const port = Number(new URL(await app.listen({ host: '127.0.0.1', port: 0 })).port);
  return { port, accepted };
}

async function open(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  await once(socket, 'connect', { signal: AbortSignal.timeout(DEADLINE_MS) });
  return socket;
}

/** Everything the server sent until it closed the socket; rejects if it has not closed by the deadline. */
async function untilClosed(socket: Socket): Promise<string> {
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  if (!socket.destroyed) await once(socket, 'close', { signal: AbortSignal.timeout(DEADLINE_MS) });
  return received;
}

/** GET /health on an open socket: the status line of the answer. */
async function health(socket: Socket): Promise<string> {
  socket.write('GET /health HTTP/1.1\r\nHost: verifier\r\n\r\n');
  const [chunk] = (await once(socket, 'data', { signal: AbortSignal.timeout(DEADLINE_MS) })) as [Buffer];
  return chunk.toString('latin1').split('\r\n')[0]!;
}

/** Resolves once the server has accepted `n` connections in all. */
async function accepted(list: Socket[], n: number): Promise<void> {
  const deadline = AbortSignal.timeout(DEADLINE_MS);
  while (list.length < n) await once(app!.server, 'connection', { signal: deadline });
}

describe('request time', () => {
  it('a body that stalls after its headers gets a 408 and a close within the bound', async () => {
    const { port } = await serve({ requestTimeoutMs: 300 });
    const socket = await open(port);
    const started = Date.now();
    socket.write('POST /v1/login HTTP/1.1\r\nHost: verifier\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"username":');
    const answer = await untilClosed(socket);
    const elapsed = Date.now() - started;
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    // Not refused at once for some other reason: it was the bound that ran out.
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(DEADLINE_MS);
  });

  it('headers that stall are cut off by the same bound', async () => {
    const { port } = await serve({ requestTimeoutMs: 300 });
    const socket = await open(port);
    socket.write('POST /v1/login HTTP/1.1\r\nHost: verif');
    expect(await untilClosed(socket)).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('the default bound is 10 s, and a prompt request is answered as usual', async () => {
    const { port } = await serve({});
    expect(app!.server.requestTimeout).toBe(10_000);
    expect(app!.server.headersTimeout).toBe(10_000);
    expect(await health(await open(port))).toBe('HTTP/1.1 200 OK');
  });
});

describe('connections', () => {
  it('one address beyond its limit: the extra socket is closed unread, the others keep working', async () => {
    const { port, accepted: list } = await serve({ connectionsPerAddress: 3 });
    const held = [await open(port), await open(port), await open(port)];
    await accepted(list, 3);
    const extra = await open(port);
    expect(await untilClosed(extra)).toBe('');
    for (const socket of held) expect(await health(socket)).toBe('HTTP/1.1 200 OK');
    // One closes: the server counts it gone (its socket's close event), and a new one is let in.
    const [first] = list;
    held[0]!.destroy();
    if (!first!.destroyed) await once(first!, 'close', { signal: AbortSignal.timeout(DEADLINE_MS) });
    expect(await health(await open(port))).toBe('HTTP/1.1 200 OK');
  });

  it('a trusted proxy is not held to the per-address limit', async () => {
    const { port, accepted: list } = await serve({ connectionsPerAddress: 2, trustedProxies: ['127.0.0.1'] });
    const held = [await open(port), await open(port), await open(port), await open(port)];
    await accepted(list, 4);
    for (const socket of held) expect(await health(socket)).toBe('HTTP/1.1 200 OK');
  });

  it('maxConnections bounds all of them', async () => {
    const { port, accepted: list } = await serve({ maxConnections: 2, trustedProxies: ['127.0.0.1'] });
    const held = [await open(port), await open(port)];
    await accepted(list, 2);
    expect(await untilClosed(await open(port))).toBe('');
    for (const socket of held) expect(await health(socket)).toBe('HTTP/1.1 200 OK');
  });

  it('refuses limits that are not positive integers', async () => {
    await expect(buildVerifierServer(verifier, { connectionsPerAddress: 0 })).rejects.toMatchObject({ code: 'ERR_INVALID_INPUT', message: 'connectionsPerAddress must be a positive integer' });
    await expect(buildVerifierServer(verifier, { requestTimeoutMs: 1.5 })).rejects.toMatchObject({ code: 'ERR_INVALID_INPUT', message: 'requestTimeoutMs must be a positive integer' });
  });
});
