// `tokengate watch`: token insertions and removals, one line each, until Ctrl-C.
import { once } from 'node:events';
import type { TokenEvent } from '../../index.js';
import { defineCommand, exitsWith } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { openModule } from '../select.js';
import { jsonOption, moduleOption, type TokenOptions } from './options.js';

export function watchCommand() {
  return jsonOption(moduleOption(defineCommand('watch', 'Token insertions and removals, one line each, until Ctrl-C'))).action(
    exitsWith(async (options: TokenOptions) => {
      await using module = await openModule(options.module);
      // The tokens already there come first, as `inserted`: the stream starts from what is present.
      const watcher = module.watch({ intervalMs: 250, emitInitial: true });
      // One line per event, also with --json (a stream a script reads line by line).
      const show = (event: TokenEvent) =>
        console.log(options.json ? JSON.stringify({ type: event.type, label: event.token.label, serial: event.token.serial }) : `${event.type.padEnd(8)} "${event.token.label}" ${event.token.serial}`);
      watcher.on('event', show);
      if (!options.json) console.log('watching for tokens (Ctrl-C stops)');
      await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
      watcher.close();
      return EXIT.ok;
    }),
  );
}
