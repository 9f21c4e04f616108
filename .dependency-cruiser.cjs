// The layers, and the one direction their imports go (README "Layout"):
//   cli, examples → client, verifier → tokens → lockout → pkcs11 | fido → hid → binding;   errors, algorithms, util below all
// The verifier never loads the PKCS#11 layer; the token library never loads the verifier's.
// No runtime import cycles either. `npm test` runs this through test/layers.test.ts: a wrong-way
// import or a cycle fails the suite.
const layer = (name) => `^src/${name}/`;
const forbid = (name, from, to, extra = {}) => ({ name, severity: 'error', from: { path: from }, to: { path: to, ...extra } });

module.exports = {
  forbidden: [
    forbid('base-layers-stay-below', '^src/(errors|algorithms|util)/', '^src/(pkcs11|hid|fido|lockout|tokens|client|verifier|cli)/'),
    forbid('pkcs11-knows-no-layer-above', layer('pkcs11'), '^src/(lockout|tokens|client|verifier|cli)/'),
    // The two transports stand side by side: neither knows the other.
    forbid('pkcs11-knows-no-hid', layer('pkcs11'), '^src/(hid|fido)/'),
    forbid('fido-knows-no-pkcs11', '^src/(hid|fido)/', '^src/(pkcs11|lockout|tokens|client|verifier|cli)/'),
    forbid('hid-knows-no-fido', layer('hid'), '^src/fido/'),
    forbid('lockout-knows-no-layer-above', layer('lockout'), '^src/(tokens|client|verifier|cli)/'),
    // One shape over both kinds of token, below the client and the kiosk.
    forbid('tokens-knows-no-layer-above', layer('tokens'), '^src/(client|verifier|cli)/'),
    forbid('verifier-loads-no-token-layer', layer('verifier'), '^src/(pkcs11|hid|fido|lockout|tokens|client|cli)/'),
    // The client speaks the verifier's protocol: its errors and message format, and types only from elsewhere.
    forbid('client-uses-only-the-verifiers-protocol', layer('client'), '^src/verifier/', {
      pathNot: '^src/verifier/(errors|protocol)\\.ts$',
      dependencyTypesNot: ['type-only'],
    }),
    forbid('client-knows-no-cli', layer('client'), '^src/cli/'),
    // No module waits at load time for one that waits for it (type-only imports aside).
    {
      name: 'no-runtime-cycles',
      severity: 'error',
      from: {},
      to: { circular: true, dependencyTypesNot: ['type-only'], viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    forbid('examples-use-entry-points', '^examples/', '^src/', { pathNot: '^src/(index|client/index|verifier/index)\\.ts$' }),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: require('node:path').join(__dirname, 'tsconfig.json') },
    moduleSystems: ['es6', 'cjs'],
  },
};
