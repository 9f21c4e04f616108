// CIDR ranges, v4 and v6, with ipaddr.js. A socket may report an IPv4 client as `::ffff:a.b.c.d`;
// it is matched as the IPv4 address it is.
import ipaddr from 'ipaddr.js';
import { InvalidInputError } from '../errors.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;

function address(ip: string): Address | undefined {
  try {
    return ipaddr.process(ip);
  } catch {
    return undefined;
  }
}

/** The canonical form of a CIDR (`10.1.0.0/16`, `2001:db8::/32`); InvalidInputError when it is none. */
export function normalizeCidr(cidr: string): string {
  try {
    const [network, bits] = ipaddr.parseCIDR(cidr.trim());
    const base = network.kind() === 'ipv6' && (network as ipaddr.IPv6).isIPv4MappedAddress() ? (network as ipaddr.IPv6).toIPv4Address() : network;
    const prefix = base.kind() === network.kind() ? bits : bits - 96;
    if (prefix < 0) throw new Error('prefix');
    const first = base.kind() === 'ipv4' ? ipaddr.IPv4.networkAddressFromCIDR(`${base.toString()}/${prefix}`) : ipaddr.IPv6.networkAddressFromCIDR(`${base.toString()}/${prefix}`);
    return `${first.toString()}/${prefix}`;
  } catch {
    throw new InvalidInputError('not a CIDR range (e.g. 192.0.2.0/24 or 2001:db8::/32)');
  }
}

/** The canonical text of an IP address, or undefined when it is none. */
export function normalizeIp(ip: string): string | undefined {
  return address(ip)?.toString();
}

export function inRanges(ip: string, cidrs: readonly string[]): boolean {
  const a = address(ip);
  if (!a) return false;
  for (const cidr of cidrs) {
    try {
      const [network, bits] = ipaddr.parseCIDR(cidr);
      if (network.kind() === a.kind() && a.match(network, bits)) return true;
    } catch {
      // Ranges are validated on the way in; an unreadable one matches nothing.
    }
  }
  return false;
}
