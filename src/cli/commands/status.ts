// `tokengate status`: the PIN's state and the PUK's (a card) or SO PIN's (a software token), with
// who counts the tries; exit 6 for a token on the --blocklist.
import type { PinState, Token } from '../../index.js';
import { defineCommand, exitsWith } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { withToken } from '../select.js';
import { printResult } from '../table.js';
import { blocklistOption, tokenOptions, type BlocklistOptions, type TokenOptions } from './options.js';

async function listCertificates(token: Token) {
  await using session = await token.openSession();
  return await session.listCertificates();
}

/** "ok (2 left, counted by the host)", "locked (counted by the card)", "tries left not reported by the card". */
function describeState(state: PinState): string {
  const by = state.source === 'host' ? 'the host' : 'the card';
  if (state.pinStatus === 'unknown') return `tries left not reported by ${by}`;
  const left = state.retriesLeft === undefined ? '' : `${state.retriesLeft} left, `;
  return `${state.pinStatus} (${left}counted by ${by})`;
}

export function statusCommand() {
  const command = defineCommand(
    'status',
    "The PIN's state and the PUK's or SO PIN's: tries left, who counts them",
    "The PIN's state and the PUK's (a card) or SO PIN's (a software token): tries left where known and who counts them (the card itself, or this machine for tokens that never lock). Exit 6 when the token is on the --blocklist.",
  );
  return blocklistOption(tokenOptions(command), 'exit 6 when the token is on it').action(
      exitsWith((options: TokenOptions & BlocklistOptions) =>
        withToken(options, async (token, blocklist) => {
          const info = token.info();
          const pin = token.pinState('user', info);
          // Only the secret this token has: a card's PUK, a software token's SO PIN.
          const unblock = token.pinState(token.unblockSecret, info);
          const blocked = blocklist?.isBlocked({ serial: token.serial, certificates: (await listCertificates(token)).map((c) => c.certificate) });
          const unblockName = token.unblockSecret === 'puk' ? 'PUK' : 'SO PIN';
          const data = {
            label: info.label,
            serial: info.serial,
            model: info.model,
            countedBy: token.pinCountedBy,
            pin,
            [token.unblockSecret === 'puk' ? 'puk' : 'soPin']: unblock,
            ...(blocked === undefined ? {} : { blocked }),
          };
          printResult(options.json, data, `"${info.label}" ${info.serial}  PIN: ${describeState(pin)}  ${unblockName}: ${describeState(unblock)}${blocked ? '  BLOCKED' : ''}`);
          return blocked ? EXIT.tokenBlocked : EXIT.ok;
        }),
      ),
    );
}
