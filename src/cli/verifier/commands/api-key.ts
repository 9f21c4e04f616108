// `tokengate verifier api-key …`: keys for the admin HTTP API. A new key is printed once, here;
// only its hash is stored.
import type { ApiKeyScope } from '../../../verifier/index.js';
// The list of scopes, to check --scope; the package exports only their type.
import { API_KEY_SCOPES } from '../../../verifier/access/api-keys.js';
import { defineGroup } from '../../command.js';
import { jsonOption } from '../../commands/options.js';
import { UsageError } from '../../exit-codes.js';
import { printListing } from '../../table.js';
import { ACTOR, defineVerifierCommand, SHOWN_ONCE, withVerifier } from '../command.js';
import { InvalidInputError } from '../../../verifier/index.js';

function scopesFrom(text: string): ApiKeyScope[] {
  const scopes = text.split(',').map((s) => s.trim());
  const bad = scopes.find((s) => !(API_KEY_SCOPES as readonly string[]).includes(s));
  if (bad !== undefined) throw new UsageError(`--scope: one or more of ${API_KEY_SCOPES.join(', ')}, comma-separated (got ${JSON.stringify(bad)})`);
  return scopes as ApiKeyScope[];
}

function createCommand() {
  const command = defineVerifierCommand('create', 'A new API key, shown once')
    .requiredOption('--label <TEXT>', 'what it is for')
    .requiredOption('--scope <SCOPES>', `${API_KEY_SCOPES.join('|')}, comma-separated`);
  return jsonOption(command).action(
    withVerifier<{ label: string; scope: string; json?: boolean }>(async (verifier, _args, options) => {
      const { key, info } = await verifier.apiKeys.create(ACTOR, options.label, scopesFrom(options.scope));
      printListing(options.json, { key, ...info }, [{ key, id: info.id, scopes: info.scopes.join(' ') }]);
      // On stderr under --json, so stdout stays one JSON document.
      (options.json ? console.error : console.log)(SHOWN_ONCE);
    }),
  );
}

function listCommand() {
  return jsonOption(defineVerifierCommand('list', 'The API keys (never the keys themselves)')).action(
    withVerifier<{ json?: boolean }>(async (verifier, _args, options) => {
      const keys = await verifier.apiKeys.list();
      printListing(options.json, keys, keys.map((k) => ({ id: k.id, label: k.label, scopes: k.scopes.join(' '), revoked: k.revoked })));
    }),
  );
}

function revokeCommand() {
  return defineVerifierCommand('revoke', 'Revokes an API key')
    .argument('<ID>', 'as listed')
    .action(
      withVerifier(async (verifier, [id]) => {
        if (!(await verifier.apiKeys.revoke(ACTOR, id!))) throw new InvalidInputError('no such API key');
        console.log(`API key ${id} revoked`);
      }),
    );
}

export function apiKeyCommand() {
  return defineGroup('api-key', 'API keys for the admin HTTP API: create (shown once), list, revoke', 'API keys for the admin HTTP API.', [createCommand(), listCommand(), revokeCommand()]);
}
