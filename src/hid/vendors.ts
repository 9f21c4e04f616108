// USB vendor ids of FIDO security keys, for a name to show a person ("Yubico Security Key NFC"),
// never to decide what is a FIDO device: that is the HID usage page (devices.ts), as libfido2 does.
// Ids and names from libfido2's udev/fidodevs (its 70-u2f.rules are generated from it).

const VENDORS: ReadonlyMap<number, string> = new Map([
  [0x0483, 'STMicroelectronics'], // SoloKeys Solo 1, Tomu, MIRKey
  [0x058b, 'Infineon'],
  [0x06cb, 'Synaptics'], // Kensington VeriMark
  [0x096e, 'Feitian'],
  [0x1050, 'Yubico'],
  [0x1209, 'pid.codes'], // shared open-hardware id: SoloKeys v2, SoloHacker, Trezor
  [0x18d1, 'Google'], // Titan
  [0x1a44, 'VASCO'],
  [0x1d50, 'OpenMoko'], // OnlyKey
  [0x1e0d, 'Neowave'],
  [0x1ea8, 'Excelsecu'], // Thetis
  [0x20a0, 'Nitrokey'], // Clay Logic's id: Nitrokey, also CanoKey and SafeKey
  [0x24dc, 'Aladdin'], // JaCarta
  [0x2abe, 'Bluink'],
  [0x2c97, 'Ledger'],
  [0x2ccf, 'Hypersecu'], // HyperFIDO
  [0x311f, 'eWBM'], // TrustKey
  [0x32a3, 'GoTrustID'],
  [0x349e, 'Token2'],
  [0x534c, 'SatoshiLabs'], // Trezor
]);

/** The vendor's name for a USB vendor id, where it is a known maker of security keys. */
export function fidoVendorName(vendorId: number): string | undefined {
  return VENDORS.get(vendorId);
}

/**
 * What to call a key in a list shown to a person: the product string it reports, led by its
 * maker's name unless the product already says it; without a product string, the maker's name.
 */
export function fidoDisplayName(vendorId: number, product?: string, manufacturer?: string): string {
  const name = product?.trim() || undefined;
  const maker = fidoVendorName(vendorId) ?? (manufacturer?.trim() || undefined);
  if (name === undefined) return `${maker ?? 'FIDO'} security key`;
  if (maker === undefined || maker === 'pid.codes' || name.toLowerCase().includes(maker.toLowerCase())) return name;
  return `${maker} ${name}`;
}
