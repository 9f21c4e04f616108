// A private PostgreSQL server for the verifier's tests: its own data directory under /tmp, trust
// authentication on loopback only, a free port, durability off (tests need speed, not crash
// safety). Run as the `postgres` user when we are root, since postgres refuses to run as root.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export interface PostgresServer {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** Fast shutdown (clients disconnected), then the same server started again on the same port and data. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

function binDir(): string {
  const root = '/usr/lib/postgresql';
  let versions: string[] = [];
  try {
    versions = readdirSync(root).filter((v) => /^\d+(\.\d+)?$/.test(v));
  } catch {
    // No PostgreSQL at all: reported below.
  }
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error('PostgreSQL server binaries not found; install the postgresql package');
  return join(root, newest, 'bin');
}

/** A port on 127.0.0.1 that was free a moment ago (another process may take it before we bind). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const asRoot = process.getuid?.() === 0;

function command(bin: string, args: string[]): [string, string[]] {
  return asRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
}

const tail = (log: string) => readFileSync(log, 'utf8').slice(-2000);

// The port can be taken between freePort() closing it and postgres binding it.
const portTaken = (log: string) => /could not bind|Address already in use|could not create any TCP\/IP sockets/.test(tail(log));

/**
 * Signals the postmaster itself. Under root our child is runuser, which neither passes SIGINT on
 * nor takes postgres down with it when killed, so the postmaster's pid comes from postmaster.pid.
 */
function signalPostmaster(child: ChildProcess, dataDir: string, signal: NodeJS.Signals): void {
  let pid = asRoot ? undefined : child.pid;
  if (asRoot) {
    try {
      pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]) || undefined;
    } catch {
      // Not written yet or already removed: the postmaster is not running.
    }
  }
  if (pid !== undefined) {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
  if (signal === 'SIGKILL') child.kill('SIGKILL');
}

async function ready(url: string, child: ChildProcess, log: string): Promise<'ready' | 'exited'> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) return 'exited';
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    try {
      await client.connect();
      await client.end();
      return 'ready';
    } catch {
      await client.end().catch(() => {});
      if (Date.now() > deadline) throw new Error(`postgres did not accept connections within 30 s:\n${tail(log)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

export async function startPostgres(options: { database?: string } = {}): Promise<PostgresServer> {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), 'tokengate-pg-'));
  const dataDir = join(dir, 'data');
  const log = join(dir, 'postgres.log');
  try {
    if (asRoot) {
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
      const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }));
      chownSync(dir, uid, gid);
    }
    const [initdb, initArgs] = command(join(bin, 'initdb'), ['-D', dataDir, '-A', 'trust', '-U', 'tokengate', '--no-sync', '-E', 'UTF8', '--locale=C']);
    execFileSync(initdb, initArgs, { stdio: 'pipe' });

    const launch = (port: number, logMode: 'w' | 'a'): ChildProcess => {
      const out = openSync(log, logMode);
      const [postgres, args] = command(join(bin, 'postgres'), [
        '-D', dataDir, '-k', dataDir, '-p', String(port),
        '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=100',
      ]);
      const launched = spawn(postgres, args, { stdio: ['ignore', out, out] });
      closeSync(out);
      return launched;
    };
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      // A fresh log per attempt, so a port clash in an earlier attempt is not read as this one's.
      let child = launch(port, 'w');
      // A crashed test run must leave no server behind; 'exit' handlers must be synchronous.
      const kill = () => signalPostmaster(child, dataDir, 'SIGKILL');
      process.on('exit', kill);
      /** Fast shutdown (SIGINT: clients are disconnected), killed if it takes over 15 s. */
      const shutDown = async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        signalPostmaster(child, dataDir, 'SIGINT');
        const timer = setTimeout(kill, 15_000);
        await exited;
        clearTimeout(timer);
      };
      const base = `postgres://tokengate@127.0.0.1:${port}`;
      try {
        if ((await ready(`${base}/postgres`, child, log)) === 'exited') {
          if (attempt < 5 && portTaken(log)) {
            process.off('exit', kill);
            continue;
          }
          throw new Error(`postgres exited during start-up (${child.exitCode ?? child.signalCode}):\n${tail(log)}`);
        }
        const database = options.database ?? 'tokengate';
        const admin = new pg.Client({ connectionString: `${base}/postgres` });
        await admin.connect();
        try {
          await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
        } finally {
          await admin.end();
        }
        let stopped: Promise<void> | undefined;
        return {
          url: `${base}/${encodeURIComponent(database)}`,
          port,
          dataDir,
          async restart() {
            await shutDown();
            child = launch(port, 'a');
            if ((await ready(`${base}/postgres`, child, log)) === 'exited') throw new Error(`postgres did not start again:\n${tail(log)}`);
          },
          stop() {
            stopped ??= (async () => {
              await shutDown();
              process.off('exit', kill);
              rmSync(dir, { recursive: true, force: true });
            })();
            return stopped;
          },
        };
      } catch (err) {
        kill();
        process.off('exit', kill);
        throw err;
      }
    }
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
