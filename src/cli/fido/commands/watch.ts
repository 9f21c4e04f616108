// `tokengate fido watch`: security keys plugged in and pulled out, one line each, until Ctrl-C.
import { once } from 'node:events';
import { FidoDeviceWatcher, type FidoDeviceEvent } from '../../../index.js';
import { defineCommand, exitsWith } from '../../command.js';
import { EXIT } from '../../exit-codes.js';

export function watchCommand() {
  return defineCommand('watch', 'Security keys plugged in and pulled out, one line each, until Ctrl-C')
    .option('--json', 'one JSON object per line')
    .action(
      exitsWith(async (options: { json?: boolean }) => {
        await using watcher = new FidoDeviceWatcher({ intervalMs: 250, emitInitial: true });
        const show = (e: FidoDeviceEvent) =>
          console.log(options.json ? JSON.stringify({ type: e.type, path: e.device.path, name: e.device.displayName, instance: e.device.instance }) : `${e.type.padEnd(8)} ${e.device.displayName} ${e.device.path}`);
        watcher.on('event', show);
        watcher.on('error', (err) => console.error(`tokengate: ${err.message} [${err.code}]`));
        if (!options.json) console.log('watching for security keys (Ctrl-C stops)');
        await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
        return EXIT.ok;
      }),
    );
}
