/**
 * `ragtune keys create|list|revoke` — API keys for `ragtune serve`, in `<storeDir>/keys.db` of the
 * project named by -c/--config, or its Postgres database when `store.kind` is postgres
 * (src/serve/keys-open.ts). `create` prints the new key alone on the last
 * line of stdout, once (`KEY=$(ragtune keys create --scope query)`); everything else goes to stderr.
 * Nothing here ever prints a secret or a hash again.
 */
import type { Command } from "commander";
import { KEY_SCOPES, MAX_RATE_LIMIT_PER_MINUTE, type ApiKeyRecord, type ApiKeyStore, type KeyScope } from "../../serve/keys.ts";
import { openKeyStore } from "../../serve/keys-open.ts";
import { choiceArg, intArg, textArg } from "../options.ts";
import { dim, green, table, yellow } from "../output.ts";
import { loadedFrom, printJson } from "./common.ts";

function withStore<T>(store: ApiKeyStore, fn: (store: ApiKeyStore) => T): T {
  try {
    return fn(store);
  } finally {
    store.close();
  }
}

export function keysCreateCommand(opts: { scope: KeyScope; name?: string; rateLimit?: number }, cmd: Command): void {
  const store = openKeyStore(loadedFrom(cmd), { create: true });
  const file = store.location;
  const { key, record } = withStore(store, (s) => s.createKey(opts.scope, { name: opts.name, rateLimitPerMinute: opts.rateLimit }));
  process.stderr.write(
    `${green("created")} ${record.scope} key ${record.id}${record.name ? ` (${record.name})` : ""} in ${file}; ` +
      `rate limit: ${record.rateLimitPerMinute === null ? "the server's default" : `${record.rateLimitPerMinute}/min`}\n` +
      `${yellow("the key is shown once")} (only its hash is stored); revoke it with: ragtune keys revoke ${record.id}\n`,
  );
  process.stdout.write(`${key}\n`);
}

const status = (r: ApiKeyRecord) => (r.revokedAt ? dim(`revoked ${r.revokedAt.slice(0, 19).replace("T", " ")}`) : green("active"));

export function keysListCommand(opts: { json?: boolean }, cmd: Command): void {
  // No store yet is just "no keys", not an error: nothing has been created.
  const store = openKeyStore(loadedFrom(cmd), { create: false, ifMissing: "undefined" });
  const keys = store ? withStore(store, (s) => s.list()) : [];
  if (opts.json) return printJson(keys);
  if (keys.length === 0) {
    process.stdout.write(`no API keys yet${store ? ` (${store.location})` : ""}; create one with: ragtune keys create --scope query\n`);
    return;
  }
  const rows = keys.map((k) => [k.id, k.scope, k.name ?? dim("—"), k.rateLimitPerMinute === null ? dim("default") : `${k.rateLimitPerMinute}/min`, k.createdAt.slice(0, 19).replace("T", " "), status(k)]);
  process.stdout.write(table(["id", "scope", "name", "rate limit", "created (UTC)", "status"], rows) + "\n");
}

export function keysRevokeCommand(id: string, opts: { json?: boolean }, cmd: Command): void {
  withStore(openKeyStore(loadedFrom(cmd), { create: false }), (store) => {
    const before = store.get(id);
    const record = store.revoke(id);
    if (opts.json) return printJson(record);
    process.stdout.write(
      before?.revokedAt ? `key ${id} was already revoked at ${before.revokedAt}\n` : `${green("revoked")} key ${id} (${record.scope}); a running server refuses it from its next request\n`,
    );
  });
}

/** Add `keys` and its subcommands to the program. */
export function registerKeys(program: Command): void {
  const keys = program.command("keys").description("API keys for ragtune serve: create (printed once), list, revoke");
  keys
    .command("create")
    .description("create an API key; prints it alone on the last line of stdout, once (only its hash is stored)")
    .requiredOption("--scope <scope>", `what the key may call: ${KEY_SCOPES.join(" (ask, search, chat, feedback), ")} (also ingest and index admin)`, choiceArg(KEY_SCOPES, "scope"))
    .option("--name <name>", "a label for people, e.g. 'support bot'", textArg("a key name"))
    .option("--rate-limit <n>", `requests a minute for this key, 1–${MAX_RATE_LIMIT_PER_MINUTE.toLocaleString("en-US")} (default: the server's)`, intArg(1, MAX_RATE_LIMIT_PER_MINUTE))
    .action(keysCreateCommand);
  keys
    .command("list")
    .description("keys with id, scope, name, rate limit, created and revoked times (never secrets)")
    .option("--json", "machine-readable output")
    .action(keysListCommand);
  keys
    .command("revoke")
    .description("revoke a key; a running server refuses it from its next request")
    .argument("<id>", "key id as shown by keys list, e.g. 3f2a9c01b7de", textArg("a key id"))
    .option("--json", "machine-readable output")
    .action(keysRevokeCommand);
}
