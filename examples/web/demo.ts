// The verifier's web pages with something in them, for a newcomer to click through: an embedded
// verifier (SQLite, mail to an outbox directory of .eml files) seeded with a few users, a card,
// API keys for each console role and some failed logins for the audit chart; then it serves and
// prints where to go and what to type. Its WebAuthn relying party is `localhost` with the origin
// http://localhost:PORT (a browser's security keys need a domain, and localhost is a secure
// context over plain HTTP), so keys can be registered and used on the pages. `npm run demo:web` runs it (`-- --port N` to choose the
// port, `-- --check` to fetch each page once and exit, as CI does).
import { generateKeyPairSync } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ServerSecret, Verifier, buildVerifierServer } from '../../src/verifier/index.js';

const args = process.argv.slice(2);
const port = Number(args[args.indexOf('--port') + 1] ?? 8787) || 8787;
const check = args.includes('--check');
const root = join(fileURLToPath(new URL('../..', import.meta.url)), '.state', 'web-demo');
rmSync(root, { recursive: true, force: true });
const outbox = join(root, 'outbox');

const verifier = await Verifier.open({
  database: join(root, 'verifier.sqlite'),
  secret: ServerSecret.generate(),
  mail: { from: 'it@example.test', transport: { kind: 'outbox', dir: outbox } },
  fido: { rpId: 'localhost', origins: [`http://localhost:${port}`] },
});
const PASSWORD = 'correct horse battery';

/** The token in the user's newest mail in the outbox (as they would read it in their mail client). */
async function tokenOf(email: string): Promise<string> {
  await verifier.deliverMail();
  const mails = readdirSync(outbox).map((f) => readFileSync(join(outbox, f), 'utf8')).filter((m) => m.includes(`To: ${email}`));
  return /Security token(?: "[^"]+")?: ([A-Za-z0-9]+)/.exec(mails.at(-1) ?? '')?.[1] ?? '(see the outbox)';
}

const seeded: Array<[string, { loginIpRanges?: string[] }]> = [['alice', {}], ['bob', { loginIpRanges: ['127.0.0.0/8'] }], ['carol', {}], ['dana', {}]];
for (let i = 1; i <= 28; i++) seeded.push([`user-${String(i).padStart(2, '0')}`, {}]);
for (const [username, options] of seeded) await verifier.admin.create('demo', { username, email: `${username}@example.test`, password: PASSWORD, ...options });
const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
await verifier.credentials.enroll('demo', { username: 'dana', publicKey: publicKey.export({ type: 'spki', format: 'der' }), serial: 'DEMO-0001', label: 'Dana’s door card' });
await verifier.organisation.addTrustedRange('demo', '198.51.100.0/24', 'the office (demo)');
for (let i = 0; i < 12; i++) await verifier.login({ username: i % 3 ? 'dana' : 'mallory', password: 'a wrong guess!!', clientIp: '203.0.113.7' }).catch(() => undefined);
await verifier.admin.apply('demo', 'dana', 'unlock');
// Carol's security key, once she registers one, is enough on its own (its PIN is the second factor).
await verifier.admin.setChallengePolicy('demo', 'carol', 'token-only');
const keys = Object.fromEntries(await Promise.all((['admin', 'helpdesk', 'audit'] as const).map(async (scope) => [scope, (await verifier.apiKeys.create('demo', `demo ${scope}`, [scope])).key])));
const aliceToken = await tokenOf('alice@example.test');

const server = await buildVerifierServer(verifier);
const listening = await server.listen({ host: '127.0.0.1', port: check ? 0 : port });
const url = check ? listening : `http://localhost:${port}`;
const carolToken = await tokenOf('carol@example.test');
console.log(`The verifier's pages, seeded (state in ${root}):

  Self-service  ${url}/account/sign-in
                alice / ${PASSWORD} / security token ${aliceToken}
                (bob, same password, may sign in only from 127.0.0.0/8 and so has no token;
                 dana has a card to report lost)
                Security keys: sign in, open "My cards and keys", register one (a real key,
                or Chrome DevTools → WebAuthn → virtual authenticator), then sign out and use
                "Sign in with a security key": alice types username and password too; carol
                (token ${carolToken}) is token-only — the key alone, nothing typed.
  Console       ${url}/console/sign-in
                admin    ${keys.admin}
                helpdesk ${keys.helpdesk}
                audit    ${keys.audit}
  Mail          new tokens and temporary passwords arrive as .eml files in ${outbox}
${check ? '' : '\nCtrl-C stops it.'}`);

async function close(): Promise<void> {
  await server.close();
  await verifier.close();
}

if (check) {
  let failed = 0;
  for (const path of ['/account/sign-in', '/account/security-token', '/console/sign-in', '/assets/style.css', '/assets/security-key.js']) {
    const response = await fetch(`${url}${path}`);
    if (response.status !== 200) failed++;
    console.log(`check ${path}: ${response.status}`);
  }
  await close();
  process.exitCode = failed ? 1 : 0;
} else {
  process.once('SIGINT', () => void close());
  process.once('SIGTERM', () => void close());
}
