// The simulator on UDP loopback, the way SoloKeys' tools talk to their simulated key: one datagram
// is one 64-byte report, both ways, no report-ID byte. Each sender address is a peer of its own,
// so replies follow the channel to whoever allocated it — python-fido2, libfido2 and our client
// can share one simulated key.
import { createSocket, type RemoteInfo } from 'node:dgram';
import type { Peer } from './ctaphid.js';

export interface UdpServer {
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function serveUdp(host: string, port: number, receive: (report: Uint8Array, peer: Peer) => void): Promise<UdpServer> {
  const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const peers = new Map<string, Peer>();
  let closed = false;
  const peerFor = (rinfo: RemoteInfo): Peer => {
    const id = `udp:${rinfo.address}:${rinfo.port}`;
    let peer = peers.get(id);
    if (!peer) {
      peer = {
        id,
        send: (report) => {
          if (closed) return;
          try {
            socket.send(report, rinfo.port, rinfo.address);
          } catch {
            // the socket went away under us: like a key pulled mid-reply
          }
        },
      };
      peers.set(id, peer);
    }
    return peer;
  };
  socket.on('message', (message, rinfo) => receive(new Uint8Array(message), peerFor(rinfo)));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  const bound = socket.address();
  return {
    address: bound.address,
    port: bound.port,
    close: () =>
      new Promise<void>((resolve) => {
        if (closed) return resolve();
        closed = true;
        socket.close(() => resolve());
      }),
  };
}
