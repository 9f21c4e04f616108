// A private pcscd for the emulated card: its own reader configuration (one vpcd reader on our
// port), started in the foreground and stopped by PID. pcscd owns the one socket
// /run/pcscd/pcscd.comm on the machine, so every user of this harness takes a cross-process lock
// first (test files run in parallel forks); whoever holds it starts and stops its own pcscd.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const VPCD_DRIVER = '/usr/lib/pcsc/drivers/serial/libifdvpcd.so';
export const OPENSC_MODULE = '/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so';
/** OPENSC_CONF that lets C_SetPIN with the PUK unblock in an unlogged session. */
export const OPENSC_UNBLOCK_CONF = join(dirname(fileURLToPath(import.meta.url)), 'opensc-unblock.conf');

const LOCK_DIR = join(tmpdir(), 'tokengate-pcscd.lock');
const DEFAULT_PORT = 0x9c40; // 40000

export interface PcscDaemon extends AsyncDisposable {
  /** The TCP port the vpcd reader listens on: the emulated card connects there. */
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Takes the machine-wide lock, waiting for another holder up to the deadline; a dead holder's lock is taken over. */
async function lock(deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    try {
      mkdirSync(LOCK_DIR);
      writeFileSync(join(LOCK_DIR, 'owner'), String(process.pid));
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let owner = NaN;
    let daemon = NaN;
    try {
      owner = Number(readFileSync(join(LOCK_DIR, 'owner'), 'utf8'));
      daemon = Number(readFileSync(join(LOCK_DIR, 'pcscd.pid'), 'utf8'));
    } catch {
      // Half-written by a holder that is starting: look again.
    }
    if (Number.isInteger(owner) && !alive(owner)) {
      // Its holder died without cleaning up: stop the pcscd it left behind and take the lock.
      if (Number.isInteger(daemon) && alive(daemon)) process.kill(daemon, 'SIGKILL');
      rmSync(LOCK_DIR, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > until) throw new Error(`another test process holds ${LOCK_DIR} (pid ${owner}); gave up waiting`);
    await sleep(200);
  }
}

function unlock(): void {
  rmSync(LOCK_DIR, { recursive: true, force: true });
}

function foreignPcscd(): string | undefined {
  const found = spawnSync('pgrep', ['-a', '-x', 'pcscd'], { encoding: 'utf8' });
  return found.stdout.trim() || undefined;
}

/**
 * True when something listens on `port`, read from /proc/net/tcp{,6} rather than by connecting:
 * to vpcd a connection IS a card being inserted.
 */
function listening(port: number): boolean {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let table = '';
    try {
      table = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    // Columns: sl local_address rem_address st …; st 0A is LISTEN.
    if (table.split('\n').some((line) => {
      const cols = line.trim().split(/\s+/);
      return cols[1]?.endsWith(`:${hexPort}`) && cols[3] === '0A';
    })) return true;
  }
  return false;
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Starts pcscd with one vpcd reader on `port`; refuses when a pcscd not ours is running. */
export async function startPcscd(options: { port?: number; lockDeadlineMs?: number } = {}): Promise<PcscDaemon> {
  const port = options.port ?? DEFAULT_PORT;
  await lock(options.lockDeadlineMs ?? 180_000);
  let child: ChildProcess | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'tokengate-pcscd-'));
  try {
    const other = foreignPcscd();
    if (other) throw new Error(`a pcscd is already running (${other}); stop it (e.g. /etc/init.d/pcscd stop) so the tests can run their own`);
    const confDir = join(dir, 'reader.conf.d');
    mkdirSync(confDir);
    const channel = `0x${port.toString(16).toUpperCase()}`;
    writeFileSync(join(confDir, 'vpcd'), `FRIENDLYNAME "tokengate vpcd"\nDEVICENAME /dev/null:${channel}\nLIBPATH ${VPCD_DRIVER}\nCHANNELID ${channel}\n`);
    mkdirSync('/run/pcscd', { recursive: true });
    const log = join(dir, 'pcscd.log');
    const started = spawn('pcscd', ['-f', '-c', confDir], { stdio: ['ignore', 'ignore', 'ignore'], env: { ...process.env } });
    child = started;
    writeFileSync(join(LOCK_DIR, 'pcscd.pid'), String(started.pid));
    writeFileSync(log, '');
    const until = Date.now() + 20_000;
    // Ready when vpcd, loaded by pcscd, listens for the card.
    while (!listening(port)) {
      if (started.exitCode !== null) throw new Error(`pcscd exited with ${started.exitCode} before its reader came up`);
      if (Date.now() > until) throw new Error('pcscd did not bring up the vpcd reader within 20 s');
      await sleep(50);
    }
  } catch (err) {
    child?.kill('SIGKILL');
    if (child) await exited(child);
    rmSync(dir, { recursive: true, force: true });
    unlock();
    throw err;
  }
  const daemon = child;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      daemon.kill('SIGTERM');
      const killer = setTimeout(() => daemon.kill('SIGKILL'), 5_000);
      await exited(daemon);
      clearTimeout(killer);
      rmSync(dir, { recursive: true, force: true });
      unlock();
    })());
  return { port, pid: daemon.pid!, stop, [Symbol.asyncDispose]: stop };
}
