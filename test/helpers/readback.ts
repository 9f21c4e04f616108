// Independent readers of what a token holds: OpenSC's pkcs11-tool (its own process) and
// graphene-pk11 (same process). Each returns "class label idhex" lines, sorted.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import type { SoftHsmFixture } from '../../native-fixtures/softhsm/softhsm.js';
import { pkcs11js } from '../../src/pkcs11/native.js';

const require = createRequire(import.meta.url);
const graphene = require('graphene-pk11') as typeof import('graphene-pk11');

export type ObjectSummary = string; // "class label id"

const CLASS_NAMES: Record<number, string> = {
  [pkcs11js.CKO_PRIVATE_KEY]: 'privateKey',
  [pkcs11js.CKO_PUBLIC_KEY]: 'publicKey',
  [pkcs11js.CKO_CERTIFICATE]: 'certificate',
};

/** `pkcs11-tool --list-objects --login` on the token with this label. */
export function objectsByPkcs11Tool(fx: SoftHsmFixture, tokenLabel: string, pin: string): ObjectSummary[] {
  const out = execFileSync('pkcs11-tool', ['--module', fx.modulePath, '--token-label', tokenLabel, '--list-objects', '--login', '--pin', pin], {
    env: { ...process.env, ...fx.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  }).toString();
  const seen: ObjectSummary[] = [];
  let current: { cls: string; label?: string; id?: string } | undefined;
  const flush = (): void => {
    if (current) seen.push(`${current.cls} ${current.label ?? ''} ${current.id ?? ''}`);
    current = undefined;
  };
  for (const line of out.split('\n')) {
    const head = /^(Private Key|Public Key|Certificate) Object/.exec(line);
    if (head) {
      flush();
      current = { cls: { 'Private Key': 'privateKey', 'Public Key': 'publicKey', Certificate: 'certificate' }[head[1] as 'Certificate'] };
      continue;
    }
    const label = /^\s+label:\s+(.*)$/.exec(line);
    if (label && current) current.label = label[1]!.trim();
    const id = /^\s+ID:\s+([0-9a-f]+)\s*$/i.exec(line);
    if (id && current) current.id = id[1]!.toLowerCase();
  }
  flush();
  return seen.sort();
}

/**
 * graphene-pk11 on the token with this serial, in this process. Login is per application, so a
 * library session logged in already lets graphene see private objects. Never finalizes: that would
 * end the library's use of the module too.
 */
export function objectsByGraphene(modulePath: string, serial: string): ObjectSummary[] {
  const gmod = graphene.Module.load(modulePath, 'module');
  gmod.initialize();
  const seen: ObjectSummary[] = [];
  try {
    const slots = gmod.getSlots(true);
    for (let i = 0; i < slots.length; i++) {
      const slot = slots.items(i);
      if (slot.getToken().serialNumber.trim() !== serial) continue;
      const gs = slot.open(graphene.SessionFlag.SERIAL_SESSION);
      try {
        const objects = gs.find();
        for (let j = 0; j < objects.length; j++) {
          const o = objects.items(j);
          const cls = o.getAttribute(pkcs11js.CKA_CLASS).readUInt32LE(0);
          seen.push(`${CLASS_NAMES[cls] ?? `class${cls}`} ${o.getAttribute(pkcs11js.CKA_LABEL).toString('utf8')} ${o.getAttribute(pkcs11js.CKA_ID).toString('hex')}`);
        }
      } finally {
        gs.close();
      }
    }
  } finally {
    gmod.close();
  }
  return seen.sort();
}
