// Which module, token and key a command works on: --module PATH (default: the first discovered
// module that has a token), --token LABEL|SERIAL (default: the only token, or an error naming
// them), --key LABEL|ID-in-hex (default: the first key that has a certificate), and the
// --blocklist a session is admitted by.
import { Blocklist, findModuleWithToken, KeyNotFoundError, Pkcs11Module, TokenNotPresentError, type Session, type Token, type TokenCertificate } from '../index.js';
import type { BlocklistOptions, TokenOptions } from './commands/options.js';
import { UsageError } from './exit-codes.js';

export async function openModule(path: string | undefined, options: { blank?: boolean } = {}): Promise<Pkcs11Module> {
  const chosen = path ?? (await findModuleWithToken(options));
  if (!chosen) {
    throw new TokenNotPresentError(
      options.blank
        ? 'no PKCS#11 module with a blank token was found (SoftHSM: is SOFTHSM2_CONF set, and its tokendir there?; or give --module PATH)'
        : 'no PKCS#11 module with a token was found (give --module PATH; SoftHSM: tokengate init-token makes one)',
    );
  }
  return Pkcs11Module.load(chosen);
}

function selectToken(module: Pkcs11Module, selector: string | undefined): Token {
  const present = module.tokens().filter((t) => t.flags.tokenInitialized);
  if (selector === undefined) {
    if (present.length === 1) return module.token({ serial: present[0]!.serial });
    if (present.length === 0) throw new TokenNotPresentError('no token is present');
    throw new UsageError(`several tokens are present (${present.map((t) => `"${t.label}" ${t.serial}`).join(', ')}): pick one with --token LABEL|SERIAL`);
  }
  const match = present.find((t) => t.serial === selector) ?? present.find((t) => t.label === selector);
  if (!match) throw new TokenNotPresentError(`no token labelled or numbered "${selector}" is present`);
  return module.token({ serial: match.serial });
}

/** A certificate (public: no login needed) by the key's label or ID in hex, or the first one. */
export async function selectCertificate(session: Session, selector: string | undefined): Promise<TokenCertificate> {
  const certificates = await session.listCertificates();
  const found = selector === undefined ? certificates[0] : certificates.find((c) => c.label === selector || Buffer.from(c.id).toString('hex') === selector.toLowerCase());
  if (!found) throw new KeyNotFoundError(selector === undefined ? 'the token holds no certificate (give --cert FILE)' : `no certificate for "${selector}" on the token (tokengate keys lists them)`);
  return found;
}

/** The body with the selected token, and the --blocklist that admits it (when one is given). */
export async function withToken<T>(options: TokenOptions & BlocklistOptions, body: (token: Token, admission: Blocklist | undefined) => Promise<T>): Promise<T> {
  await using module = await openModule(options.module);
  const blocklist = options.blocklist ? await Blocklist.fromFile(options.blocklist) : undefined;
  // Awaited here: `using` must not close the module before the body is done.
  return await body(selectToken(module, options.token), blocklist);
}
