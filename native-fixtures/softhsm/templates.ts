// PKCS#11 object templates for importing fixture keys, written against pkcs11js directly so the
// fixtures do not depend on the library they test.
import { webcrypto } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as Pkcs11Js from 'pkcs11js';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import type { GeneratedKey } from './keys.js';

const require = createRequire(import.meta.url);
const p: typeof Pkcs11Js = require('pkcs11js');

const CKK_EC_EDWARDS = 0x40;
const CURVE_OID: Record<string, string> = {
  'P-256': '06082a8648ce3d030107',
  'P-384': '06052b81040022',
  Ed25519: '06032b6570',
};

const b = (v: string | undefined): Buffer => Buffer.from(v ?? '', 'base64url');
const octetString = (v: Buffer): Buffer => Buffer.concat([Buffer.from([0x04, v.length]), v]);

export function keyTemplates(key: GeneratedKey): { priv: Pkcs11Js.Template; pub: Pkcs11Js.Template } {
  const common = (cls: number): Pkcs11Js.Template => [
    { type: p.CKA_CLASS, value: cls },
    { type: p.CKA_TOKEN, value: true },
    { type: p.CKA_LABEL, value: key.label },
    { type: p.CKA_ID, value: Buffer.from(key.id, 'hex') },
  ];
  const privFlags: Pkcs11Js.Template = [
    { type: p.CKA_PRIVATE, value: true },
    { type: p.CKA_SENSITIVE, value: true },
    { type: p.CKA_EXTRACTABLE, value: false },
    { type: p.CKA_SIGN, value: true },
  ];
  const pubFlags: Pkcs11Js.Template = [{ type: p.CKA_VERIFY, value: true }, { type: p.CKA_PRIVATE, value: false }];
  const j = key.privateJwk;
  if (key.type === 'rsa-2048') {
    return {
      priv: [
        ...common(p.CKO_PRIVATE_KEY), ...privFlags,
        { type: p.CKA_KEY_TYPE, value: p.CKK_RSA },
        { type: p.CKA_MODULUS, value: b(j.n) },
        { type: p.CKA_PUBLIC_EXPONENT, value: b(j.e) },
        { type: p.CKA_PRIVATE_EXPONENT, value: b(j.d) },
        { type: p.CKA_PRIME_1, value: b(j.p) },
        { type: p.CKA_PRIME_2, value: b(j.q) },
        { type: p.CKA_EXPONENT_1, value: b(j.dp) },
        { type: p.CKA_EXPONENT_2, value: b(j.dq) },
        { type: p.CKA_COEFFICIENT, value: b(j.qi) },
      ],
      pub: [
        ...common(p.CKO_PUBLIC_KEY), ...pubFlags,
        { type: p.CKA_KEY_TYPE, value: p.CKK_RSA },
        { type: p.CKA_MODULUS, value: b(j.n) },
        { type: p.CKA_PUBLIC_EXPONENT, value: b(j.e) },
      ],
    };
  }
  const edwards = key.type === 'ed25519';
  const keyType = edwards ? CKK_EC_EDWARDS : p.CKK_EC;
  const params = Buffer.from(CURVE_OID[j.crv!]!, 'hex');
  const point = edwards ? b(j.x) : Buffer.concat([Buffer.from([4]), b(j.x), b(j.y)]);
  return {
    priv: [
      ...common(p.CKO_PRIVATE_KEY), ...privFlags,
      { type: p.CKA_KEY_TYPE, value: keyType },
      { type: p.CKA_EC_PARAMS, value: params },
      { type: p.CKA_VALUE, value: b(j.d) },
    ],
    pub: [
      ...common(p.CKO_PUBLIC_KEY), ...pubFlags,
      { type: p.CKA_KEY_TYPE, value: keyType },
      { type: p.CKA_EC_PARAMS, value: params },
      { type: p.CKA_EC_POINT, value: octetString(point) },
    ],
  };
}

export function certificateTemplate(key: GeneratedKey): Pkcs11Js.Template {
  const cert = new x509.X509Certificate(key.certificatePem);
  return [
    { type: p.CKA_CLASS, value: p.CKO_CERTIFICATE },
    { type: p.CKA_CERTIFICATE_TYPE, value: p.CKC_X_509 },
    { type: p.CKA_TOKEN, value: true },
    { type: p.CKA_PRIVATE, value: false },
    { type: p.CKA_LABEL, value: key.label },
    { type: p.CKA_ID, value: Buffer.from(key.id, 'hex') },
    { type: p.CKA_SUBJECT, value: Buffer.from(cert.subjectName.toArrayBuffer()) },
    { type: p.CKA_VALUE, value: Buffer.from(cert.rawData) },
  ];
}

export { webcrypto };
