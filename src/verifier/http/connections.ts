// How many connections one client address may hold. Each open socket costs a file descriptor, and
// a client that opens them faster than they time out (server.ts bounds a request's time) could use
// up the process's descriptors and lock everyone else out. Beyond the limit a new socket is closed
// as it arrives, before a byte of it is read. Trusted proxies are not counted per address — they
// carry many clients — but the server's maxConnections still bounds everything.
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { inRanges, normalizeIp } from '../policy/ip-ranges.js';

/** `10.0.0.1` → `10.0.0.1/32`: proxies may be given as addresses or ranges. */
function asRange(proxy: string): string {
  return proxy.includes('/') ? proxy : `${proxy}/${proxy.includes(':') ? 128 : 32}`;
}

export function limitConnectionsPerAddress(server: Server, perAddress: number, trustedProxies: readonly string[]): void {
  const proxies = trustedProxies.map(asRange);
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const remote = socket.remoteAddress;
    if (remote === undefined || inRanges(remote, proxies)) return;
    // `::ffff:192.0.2.1` and `192.0.2.1` are one client.
    const address = normalizeIp(remote) ?? remote;
    const count = (open.get(address) ?? 0) + 1;
    if (count > perAddress) {
      socket.destroy();
      return;
    }
    open.set(address, count);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left > 0) open.set(address, left);
      else open.delete(address);
    });
  });
}
