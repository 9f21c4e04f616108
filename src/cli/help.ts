// What `tokengate --help`, `tokengate help` and `tokengate help COMMAND` (or `COMMAND --help`)
// print: one line per command in the overview, and a page per command with its options.
export const COMMAND_HELP: Record<string, string> = {
  modules: `tokengate modules [--json]
  PKCS#11 modules found on this machine (p11-kit registry, usual SoftHSM, OpenSC and ykcs11 paths).`,
  tokens: `tokengate tokens [--module PATH] [--json]
  Tokens present: label, serial, model, PIN status as the token reports it.`,
  keys: `tokengate keys [--module PATH] [--token LABEL|SERIAL] [--json]
  The token's keys and certificates, paired by their CKA_ID: label, id (hex), key type, whether a
  certificate is there, and its subject. No PIN is needed: only public objects are listed.`,
  export: `tokengate export --key LABEL|ID (--cert | --public-key) [--format pem|der] [--out FILE]
  Writes the key's certificate or public key (SPKI), PEM by default, to FILE or standard output.
  No PIN is needed. The public key verifies a \`tokengate sign\` signature:
    openssl dgst -sha256 -verify pub.pem -signature msg.sig msg   (with sign --format der)`,
  watch: `tokengate watch [--module PATH] [--json]
  Token insertions and removals, one line each, until Ctrl-C.`,
  status: `tokengate status [--token LABEL|SERIAL] [--blocklist FILE] [--json]
  The PIN's state and the PUK's (a card) or SO PIN's (a software token): tries left where known and
  who counts them (the card itself, or this machine for tokens that never lock). Exit 6 when the
  token is on the --blocklist.`,
  login: `tokengate login [--token LABEL|SERIAL] [--pin-fd N] [--allow-final-try]
  Checks the PIN (TOKENGATE_PIN, --pin-fd N, or a masked prompt). Every wrong PIN counts; on the
  last try it asks first on a terminal, or needs --allow-final-try.`,
  sign: `tokengate sign --in FILE --out FILE [--key LABEL|ID] [--format raw|der] [--mechanism ALG]
  Signs FILE on the token after the PIN (as for login). ECDSA signatures are raw r||s unless
  --format der (what openssl dgst -verify expects).`,
  verify: `tokengate verify --in FILE --signature FILE [--cert FILE | --key LABEL|ID] [--format raw|der] [--mechanism ALG]
  Checks a signature against a certificate (a file, or the token's). Exit 0 valid, 7 not valid.
  Without --format an ECDSA signature is taken as raw or DER, whichever it is.`,
  keygen: `tokengate keygen --label L [--type ec-p256|ec-p384|rsa-2048|rsa-3072|ed25519] [--subject CN=…] [--csr FILE]
  A key pair on the token (after the PIN), with a self-signed certificate (--subject) or a PKCS#10
  request signed on the token (--csr FILE).`,
  'import-cert': `tokengate import-cert --in FILE [--key LABEL|ID] [--label L]
  Stores a certificate (PEM or DER) next to its key (after the PIN).`,
  enroll: `tokengate enroll --verifier URL --username NAME [--key LABEL|ID | --type T --subject CN=…]
  Registers the token's key with the verifier: TOKENGATE_API_KEY (an admin key) or
  TOKENGATE_PASSWORD (the user enrolls their own token). Says which challenge policy the user has.`,
  'change-pin': `tokengate change-pin [--token LABEL|SERIAL] [--allow-final-try]
  TOKENGATE_PIN (current) and TOKENGATE_NEW_PIN, or prompts (the new PIN twice).`,
  'unblock-pin': `tokengate unblock-pin [--with puk|so-pin] [--allow-final-try]
  Sets a new PIN with the PUK (cards: TOKENGATE_PUK) or the SO PIN (software tokens:
  TOKENGATE_SO_PIN), and TOKENGATE_NEW_PIN; the default follows the token. A wrong PUK or SO PIN
  counts on its own counter.`,
  'init-token': `tokengate init-token --label L
  Initialises the first uninitialised token: TOKENGATE_SO_PIN and TOKENGATE_NEW_PIN (or prompts).`,
  verifier: `tokengate verifier …
  The companion verifier: serve, users, policies, IP ranges, API keys, audit (tokengate verifier --help).`,
};

export function overview(): string {
  const lines = Object.keys(COMMAND_HELP).map((name) => `  ${name.padEnd(12)}${COMMAND_HELP[name]!.split('\n')[1]!.trim()}`);
  return `usage: tokengate <command> [options]      tokengate help <command> for its options

commands:
${lines.join('\n')}

options of every token command:
  --module PATH           the PKCS#11 module (default: the first discovered one with a token)
  --token LABEL|SERIAL    which token (default: the only one present)
  --key LABEL|ID          which key, ID in hex (default: the first with a certificate)
  --pin-fd N              read the PIN from file descriptor N; else TOKENGATE_PIN, else a
                          masked prompt. A PIN on the command line is refused.
  --json                  machine-readable output
  --debug                 stack traces on errors
  --help                  this text

exit codes: 0 ok, 1 failure, 2 usage, 3 PIN incorrect, 4 PIN locked, 5 token not present,
            6 token blocked, 7 verification failed, 8 verifier unreachable
`;
}
