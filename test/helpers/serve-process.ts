/** `ragtune serve` as a child process, for tests that drive the real command over loopback. */
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { BIN } from "./cli.ts";

/** A free loopback port (the OS picks it; closed again before it is returned). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

/** Start `ragtune serve` in `dir` and resolve once it prints its address; rejects if it exits or stays silent `timeoutMs`. */
export function startServe(dir: string, args: string[], timeoutMs = 30_000): Promise<{ stop: () => void; url: string; banner: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, "serve", ...args], { cwd: dir, env: { ...process.env, NO_COLOR: "1" } });
    let out = "";
    let err = "";
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`serve did not start: ${out} ${err}`));
    }, timeoutMs);
    child.stdout.on("data", (d) => {
      out += d;
      const m = /(http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], banner: out, stop: () => child.kill("SIGTERM") });
      }
    });
    child.stderr.on("data", (d) => (err += d));
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited ${code}: ${out} ${err}`));
    });
  });
}
