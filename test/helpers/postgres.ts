/**
 * A private PostgreSQL 15 cluster for one test file: a temp folder, `initdb` with trust auth, the
 * server on a random loopback port and a unix socket in that folder, stopped and deleted by
 * `stop()`. As root (CI), PostgreSQL refuses to run, so initdb/pg_ctl run as the `postgres` user
 * via `runuser`, in a folder it owns. Tests call `postgresSkipReason()` and skip with that message
 * when the binaries (Debian's `postgresql` package) are absent.
 *
 *   const skip = postgresSkipReason();
 *   describe("on postgres", { skip }, () => { let pg: PostgresServer; before(async () => (pg = await startPostgres())); after(() => pg.stop()); … });
 */
import { after, before } from "node:test";
import { execFileSync, spawn } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const BIN_DIRS = [process.env.RAGTUNE_PG_BIN, "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin"].filter(
  (d): d is string => !!d,
);

export interface PostgresServer {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust auth, no password). */
  url: string;
  port: number;
  /** The folder holding the unix socket (`host=<socketDir>` in libpq terms). */
  socketDir: string;
  dataDir: string;
  /** Create another database on this server and return its URL (isolates tests from each other). */
  createDatabase(name: string): string;
  /**
   * Crash and start again: an immediate shutdown (no checkpoint, clients cut off mid-query, as a
   * killed server), `downMs` with the port closed, then the same data folder and port again.
   */
  restart(opts?: { downMs?: number }): Promise<void>;
  /**
   * Crash the server `afterMs` from now from another process, so it happens even while this
   * thread is blocked in a synchronous store call (the Postgres store's bridge). Then `start()`.
   */
  crashAfter(afterMs: number): void;
  /**
   * Crash now and start again `downMs` later from another process, so the restart happens while
   * this thread is blocked in a synchronous store call. Resolves once the server is up again.
   */
  outage(downMs: number): Promise<void>;
  /** Start the server again after a crash (same folder and port). */
  start(): void;
  /** Stop the server (immediate shutdown) and delete its folder. Safe to call twice. */
  stop(): void;
}

function binDir(): string | undefined {
  return BIN_DIRS.find((d) => ["initdb", "pg_ctl", "postgres", "psql"].every((b) => existsSync(join(d, b))));
}

const isRoot = () => typeof process.getuid === "function" && process.getuid() === 0;

function postgresUid(): { uid: number; gid: number } | undefined {
  try {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : undefined;
  } catch {
    return undefined;
  }
}

/** Why PostgreSQL tests cannot run here, or undefined when they can. */
export function postgresSkipReason(): string | undefined {
  if (!binDir()) return `PostgreSQL server binaries not found (looked in ${BIN_DIRS.join(", ")}; install Debian's postgresql package)`;
  if (isRoot() && !postgresUid()) return "running as root and there is no 'postgres' user to run PostgreSQL as";
  if (isRoot() && !existsSync("/usr/sbin/runuser") && !existsSync("/usr/bin/runuser") && !existsSync("/sbin/runuser")) return "running as root without runuser";
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** `durable`: commits survive a crash restart (synchronous_commit on; fsync may stay off: a killed
 * server's files are still in the OS cache). The default trades that for speed. */
export async function startPostgres(options: { durable?: boolean } = {}): Promise<PostgresServer> {
  const reason = postgresSkipReason();
  if (reason) throw new Error(reason);
  const bin = binDir()!;
  const root = mkdtempSync(join(tmpdir(), "ragtune-pg-"));
  const dataDir = join(root, "data");
  const socketDir = root;
  const owner = isRoot() ? postgresUid()! : undefined;
  if (owner) chownSync(root, owner.uid, owner.gid);
  const run = (cmd: string, args: string[]) => {
    const [file, argv] = owner ? ["runuser", ["-u", "postgres", "--", join(bin, cmd), ...args]] : [join(bin, cmd), args];
    try {
      return execFileSync(file, argv, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], cwd: root });
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string; message: string };
      throw new Error(`${cmd} failed: ${e.stderr || e.stdout || e.message}`);
    }
  };
  let started = false;
  const stop = () => {
    if (started) {
      started = false;
      try {
        run("pg_ctl", ["stop", "-D", dataDir, "-m", "immediate", "-w"]);
      } catch {
        // Already gone: the folder is removed either way.
      }
    }
    rmSync(root, { recursive: true, force: true });
  };
  try {
    run("initdb", ["-D", dataDir, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"]);
    const port = await freePort();
    const log = join(root, "server.log");
    if (owner) {
      writeFileSync(log, "");
      chownSync(log, owner.uid, owner.gid);
    }
    // fsync off: a test cluster is thrown away, and the machine's disk is shared with benchmarks.
    const opts = `-p ${port} -k ${socketDir} -c listen_addresses=127.0.0.1 -c fsync=off${options.durable ? "" : " -c synchronous_commit=off"} -c full_page_writes=off`;
    run("pg_ctl", ["start", "-D", dataDir, "-w", "-t", "60", "-l", log, "-o", opts]);
    started = true;
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    return {
      url,
      port,
      socketDir,
      dataDir,
      createDatabase(name) {
        if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`database name ${name} must be a plain identifier`);
        run("psql", ["-h", socketDir, "-p", String(port), "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c", `CREATE DATABASE ${name}`]);
        return `postgres://postgres@127.0.0.1:${port}/${name}`;
      },
      crashAfter(afterMs) {
        const stopArgs = [join(bin, "pg_ctl"), "stop", "-D", dataDir, "-m", "immediate", "-w"];
        const cmd = (owner ? ["runuser", "-u", "postgres", "--", ...stopArgs] : stopArgs).map((a) => `'${a}'`).join(" ");
        spawn("sh", ["-c", `sleep ${afterMs / 1000}; ${cmd} >/dev/null 2>&1`], { stdio: "ignore", detached: true }).unref();
      },
      outage(downMs) {
        const as = (args: string[]) => (owner ? ["runuser", "-u", "postgres", "--", ...args] : args).map((a) => `'${a}'`).join(" ");
        const stopCmd = as([join(bin, "pg_ctl"), "stop", "-D", dataDir, "-m", "immediate", "-w"]);
        const startCmd = as([join(bin, "pg_ctl"), "start", "-D", dataDir, "-w", "-t", "60", "-l", log, "-o", opts]);
        const child = spawn("sh", ["-c", `${stopCmd} >/dev/null 2>&1; sleep ${downMs / 1000}; ${startCmd} >/dev/null 2>&1`], { stdio: "ignore" });
        return new Promise((resolve, reject) => child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`outage: pg_ctl start exited ${code}`)))));
      },
      start() {
        run("pg_ctl", ["start", "-D", dataDir, "-w", "-t", "60", "-l", log, "-o", opts]);
      },
      async restart({ downMs = 300 } = {}) {
        run("pg_ctl", ["stop", "-D", dataDir, "-m", "immediate", "-w"]);
        await new Promise((r) => setTimeout(r, downMs));
        run("pg_ctl", ["start", "-D", dataDir, "-w", "-t", "60", "-l", log, "-o", opts]);
      },
      stop,
    };
  } catch (err) {
    stop();
    throw err;
  }
}

/**
 * In a `describe`: start a private server before its tests (handed to `set`), and after them stop
 * `stops` (child processes), the server, and delete `roots` (project folders the tests made).
 */
export function usePostgres(set: (server: PostgresServer) => void, options: { durable?: boolean; roots?: string[]; stops?: (() => void)[] } = {}): void {
  let server: PostgresServer | undefined;
  before(async () => {
    server = await startPostgres({ durable: options.durable });
    set(server);
  });
  after(() => {
    for (const s of options.stops ?? []) s();
    server?.stop();
    for (const r of options.roots ?? []) rmSync(r, { recursive: true, force: true });
  });
}
