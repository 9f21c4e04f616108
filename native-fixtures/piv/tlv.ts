// BER-TLV as PIV uses it: one- or two-byte tags, definite lengths up to 0xFFFF.
export function tlv(tag: number, value: Uint8Array): Buffer {
  const tagBytes = tag > 0xffff ? [tag >> 16, (tag >> 8) & 0xff, tag & 0xff] : tag > 0xff ? [tag >> 8, tag & 0xff] : [tag];
  const n = value.length;
  const len = n < 0x80 ? [n] : n <= 0xff ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from(tagBytes), Buffer.from(len), value]);
}

export interface TlvItem {
  tag: number;
  value: Buffer;
}

/** Parses a sequence of TLVs; throws on truncated input. */
export function parseTlvs(data: Uint8Array): TlvItem[] {
  const buf = Buffer.from(data);
  const items: TlvItem[] = [];
  let i = 0;
  while (i < buf.length) {
    let tag = buf[i++]!;
    // Two-byte tags: the low five bits of the first byte all set.
    if ((tag & 0x1f) === 0x1f) tag = (tag << 8) | buf[i++]!;
    let len = buf[i++]!;
    if (len === 0x81) len = buf[i++]!;
    else if (len === 0x82) {
      len = (buf[i]! << 8) | buf[i + 1]!;
      i += 2;
    }
    if (i + len > buf.length) throw new Error('truncated TLV');
    items.push({ tag, value: buf.subarray(i, i + len) });
    i += len;
  }
  return items;
}
