// The simulator on UDP loopback, the way SoloKeys' tools talk to their simulated key: one datagram
// is one 64-byte report, both ways, no report-ID byte. Each sender address is a peer of its own,
// so replies follow the channel to whoever allocated it — python-fido2, libfido2 and our client
// can share one simulated key. Pulling the key out closes the socket, so the port answers ICMP
// port-unreachable (ECONNREFUSED to a connected sender) as a vanished device fails its reads;
// plugging it back in binds the same port again.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { REPORT_SIZE } from './constants.js';
import type { Peer } from './ctaphid.js';

export interface UdpServer {
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

/** The server as the authenticator drives it: pulled out and put back, the port kept. */
export interface PluggableUdpServer extends UdpServer {
  unplug(): Promise<void>;
  plug(): Promise<void>;
}

export async function serveUdp(host: string, port: number, receive: (report: Uint8Array, peer: Peer) => void): Promise<PluggableUdpServer> {
  let socket: Socket | undefined;
  let closed = false;
  // Pulls and plugs run in order: a plug right after a pull binds after the close.
  let settled: Promise<void> = Promise.resolve();
  const peers = new Map<string, Peer>();
  const peerFor = (rinfo: RemoteInfo): Peer => {
    const id = `udp:${rinfo.address}:${rinfo.port}`;
    let peer = peers.get(id);
    if (!peer) {
      peer = {
        id,
        send: (report) => {
          try {
            socket?.send(report, rinfo.port, rinfo.address);
          } catch {
            // the socket went away under us: like a key pulled mid-reply
          }
        },
      };
      peers.set(id, peer);
    }
    return peer;
  };
  const bind = async (at: number): Promise<Socket> => {
    const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    // A datagram of another size is no HID report (a presence probe sends an empty one): dropped.
    s.on('message', (message, rinfo) => {
      if (message.length === REPORT_SIZE) receive(new Uint8Array(message), peerFor(rinfo));
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(at, host, () => {
        s.off('error', reject);
        resolve();
      });
    });
    s.on('error', () => undefined);
    return s;
  };
  const shut = () =>
    new Promise<void>((resolve) => {
      const s = socket;
      socket = undefined;
      peers.clear();
      if (!s) return resolve();
      s.close(() => resolve());
    });
  socket = await bind(port);
  const bound = socket.address();
  const queue = (step: () => Promise<void>): Promise<void> => (settled = settled.then(step, step));
  return {
    address: bound.address,
    port: bound.port,
    unplug: () => queue(shut),
    plug: () =>
      queue(async () => {
        if (!closed && !socket) socket = await bind(bound.port);
      }),
    close: () => {
      closed = true;
      return queue(shut);
    },
  };
}
