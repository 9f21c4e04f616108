// @peculiar/x509 needs the Reflect metadata polyfill loaded before it (tsyringe); every module of
// ours imports x509 from here so the order always holds.
import 'reflect-metadata';

export * as x509 from '@peculiar/x509';
export { X509Certificate } from '@peculiar/x509';
