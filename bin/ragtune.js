#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx's loader: no build step between `npm install`
// and `npx ragtune`, and stack traces point at the real source lines.
import { register } from "tsx/esm/api";

register();
// `ragtune … | head` closes the pipe early: that is the reader's choice, not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (err) => {
    if (err.code === "EPIPE") process.exit(0);
    throw err;
  });
}
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv);
