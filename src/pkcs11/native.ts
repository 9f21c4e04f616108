// Loads the pkcs11js addon (CommonJS). Kept free of imports so every other module can depend on it.
import { createRequire } from 'node:module';
import type * as Pkcs11Js from 'pkcs11js';

const require = createRequire(import.meta.url);

/** The pkcs11js namespace: constructor plus its numeric constants. */
export const pkcs11js: typeof Pkcs11Js = require('pkcs11js');
