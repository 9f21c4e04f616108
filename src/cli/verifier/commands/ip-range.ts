// `tokengate verifier ip-range …`: the organisation-wide trusted ranges (list, add, remove).
import { defineGroup } from '../../command.js';
import { jsonOption } from '../../commands/options.js';
import { printListing } from '../../table.js';
import { ACTOR, defineVerifierCommand, withVerifier } from '../command.js';
import { InvalidInputError } from '../../../verifier/index.js';

function listCommand() {
  return jsonOption(defineVerifierCommand('list', 'The trusted ranges')).action(
    withVerifier<{ json?: boolean }>(async (verifier, _args, options) => {
      const ranges = await verifier.organisation.trustedRanges();
      printListing(options.json, ranges, ranges.map((r) => ({ ...r })));
    }),
  );
}

function addCommand() {
  return defineVerifierCommand('add', 'Trusts a range')
    .argument('<CIDR>', 'e.g. 10.0.0.0/8')
    .option('--description <TEXT>', 'what it is')
    .action(
      withVerifier<{ description?: string }>(async (verifier, [cidr], options) => {
        console.log(`trusted range ${await verifier.organisation.addTrustedRange(ACTOR, cidr!, options.description ?? '')} added`);
      }),
    );
}

function removeCommand() {
  return defineVerifierCommand('remove', 'Trusts a range no more')
    .argument('<CIDR>', 'as listed')
    .action(
      withVerifier(async (verifier, [cidr]) => {
        if (!(await verifier.organisation.removeTrustedRange(ACTOR, cidr!))) throw new InvalidInputError('no such trusted range');
        console.log(`trusted range ${cidr} removed`);
      }),
    );
}

export function ipRangeCommand() {
  return defineGroup('ip-range', 'Organisation-wide trusted ranges: list, add, remove', 'Organisation-wide trusted IP ranges.', [listCommand(), addCommand(), removeCommand()]);
}
