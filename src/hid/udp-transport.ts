// A HID cable made of UDP on loopback, the SoloKeys way: each datagram is one 64-byte report, no
// report ID, so the simulated authenticator in another process (and python-fido2 or libfido2
// pointed at the same simulator) speak CTAPHID byte for byte as over USB. The socket is connected,
// so a peer that has gone shows as ICMP port-unreachable, which Node reports as ECONNREFUSED on the
// next send or receive: that is the cable pulled out, TokenRemovedError, as for a real key.
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { isIP } from 'node:net';
import { InvalidArgumentError, TokenRemovedError, type TokengateError } from '../errors/index.js';
import { classifyHidError } from './hid-errors.js';
import { ReportQueue } from './report-queue.js';
import { HID_REPORT_SIZE, removalNotice, type HidOpenOptions, type HidTransport } from './transport.js';

/** `udp:HOST:PORT` (an IPv6 host in brackets: `udp:[::1]:8111`) → host and port. */
export function parseUdpPath(path: string): { host: string; port: number } {
  const match = /^udp:(?:\[([0-9a-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/i.exec(path);
  const port = Number(match?.[3]);
  if (!match || !(port >= 1 && port <= 65535)) {
    throw new InvalidArgumentError('a UDP device path is udp:HOST:PORT, e.g. udp:127.0.0.1:8111');
  }
  return { host: match[1] ?? match[2]!, port };
}

/** Connects to a simulated key listening at `udp:HOST:PORT`. Nothing is sent until the first write. */
export async function openUdpTransport(path: string, options: HidOpenOptions = {}): Promise<HidTransport> {
  const { host, port } = parseUdpPath(path);
  const socket = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
  const queue = new ReportQueue();
  const noticeRemoval = removalNotice(path, options.onRemoved);
  const fail = (error: TokengateError) => {
    queue.fail(error);
    if (error instanceof TokenRemovedError) noticeRemoval();
  };
  socket.on('error', (err) => fail(classifyHidError(err, path, 'read')));
  // A datagram of another size is no report; a HID device never delivers one, so it is dropped.
  socket.on('message', (data) => {
    if (data.length === HID_REPORT_SIZE) queue.push(new Uint8Array(data));
  });
  try {
    socket.connect(port, host);
    await once(socket, 'connect');
  } catch (err) {
    socket.close();
    throw classifyHidError(err, path, 'open');
  }
  return udpTransport(path, socket, queue, fail);
}

function udpTransport(path: string, socket: Socket, queue: ReportQueue, fail: (error: TokengateError) => void): HidTransport {
  let closed = false;
  const transport: HidTransport = {
    path,
    get closed() {
      return closed;
    },
    async write(report) {
      queue.assertWritable(path, report, closed);
      await new Promise<void>((resolve, reject) => {
        socket.send(report, (err) => {
          if (!err) return resolve();
          const error = classifyHidError(err, path, 'write');
          if (error instanceof TokenRemovedError) fail(error);
          reject(error);
        });
      });
    },
    read(timeoutMs) {
      return queue.read(timeoutMs);
    },
    async close() {
      if (closed) return;
      closed = true;
      queue.end();
      socket.close();
    },
    async [Symbol.asyncDispose]() {
      await transport.close();
    },
  };
  return transport;
}

/**
 * Whether a simulated key answers at `udp:HOST:PORT`: an empty datagram (no report, so the key
 * ignores it) to a closed port comes back as ECONNREFUSED within a millisecond on loopback;
 * silence for `withinMs` means something is listening. This is the UDP cable's "is it plugged in".
 */
export async function udpKeyAnswers(path: string, withinMs = 50): Promise<boolean> {
  const { host, port } = parseUdpPath(path);
  const socket = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
  return new Promise<boolean>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const done = (answers: boolean) => {
      clearTimeout(timer);
      socket.close();
      resolve(answers);
    };
    // Any failure (refused, unreachable, a name that does not resolve) is no key there.
    socket.once('error', () => done(false));
    socket.connect(port, host, () => {
      socket.send(new Uint8Array(0), (err) => {
        if (err) return done(false);
        timer = setTimeout(() => done(true), withinMs);
      });
    });
  });
}
