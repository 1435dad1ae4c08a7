/**
 * The API-key check the HTTP app runs before each `/v1/*` route:
 * `const denied = await authorize(c, "query"); if (denied) return denied;`
 *
 * - no or malformed `Authorization: Bearer <key>`, unknown or revoked key → 401 `unauthorized`
 *   with `WWW-Authenticate: Bearer`;
 * - a query key on an admin route → 403 `forbidden` (admin keys may call query routes);
 * - past the key's rate (its own, else `defaults.rateLimitPerMinute`) → 429 `rate_limited` with
 *   `Retry-After` in seconds.
 *
 * Floods of bad keys stay cheap and bounded: a malformed key or an unknown id is refused before
 * any hashing (see keys.ts), and bad attempts are counted per client address in a bounded
 * limiter; an address past `badAttemptsPerMinute` gets 429 for every request until its bucket
 * refills, without a store lookup.
 */
import type { Context } from "hono";
import type { ApiKeyRecord, ApiKeyStore, KeyScope } from "./keys.ts";
import { RateLimiter } from "./rate-limit.ts";

export interface AuthDefaults {
  /** Requests a minute for keys created without `--rate-limit`. */
  rateLimitPerMinute: number;
  /** Bad keys a minute one client address may send before it is refused outright; default 30. */
  badAttemptsPerMinute?: number;
  /** Client addresses tracked for bad attempts; default 10,000 (least recently seen dropped). */
  maxTrackedClients?: number;
  /**
   * The client address bad attempts are counted by. Default: the socket's remote address from
   * @hono/node-server (not X-Forwarded-For, which any client can set); behind a proxy, pass one
   * that trusts the proxy's header.
   */
  clientAddress?: (c: Context) => string;
  /** Milliseconds now; for tests. */
  now?: () => number;
}

/** The signature the app calls. */
export type Authorizer = (c: Context, scope: KeyScope) => Promise<Response | undefined>;

/** Where the authorised key's record is left on the context (`c.get(API_KEY_VAR)`), e.g. for request logs. */
export const API_KEY_VAR = "apiKey";

/** Longest Authorization header looked at; a real one is ~70 characters. */
const MAX_AUTH_HEADER = 512;

/** The peer address of the request's socket (@hono/node-server puts the IncomingMessage in c.env), or "unknown". */
export function socketAddress(c: Context): string {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? "unknown";
}

function errorResponse(c: Context, status: 401 | 403 | 429, code: string, message: string, headers: Record<string, string> = {}, extra: Record<string, unknown> = {}): Response {
  return c.json({ error: { code, message, ...extra } }, status, headers);
}

/** The bearer token of the request, or undefined when the header is missing or not `Bearer <token>`. */
function bearerToken(header: string | undefined): string | undefined {
  if (!header || header.length > MAX_AUTH_HEADER) return undefined;
  const m = /^Bearer +(\S+) *$/i.exec(header);
  return m ? m[1] : undefined;
}

/** The authorizer, plus how many client addresses it tracks (bounded by maxTrackedClients; for /metrics and tests). */
export type KeyAuthorizer = Authorizer & { trackedClients(): number };

export function keyAuthorizer(store: Pick<ApiKeyStore, "verify">, limiter: Pick<RateLimiter, "take">, defaults: AuthDefaults): KeyAuthorizer {
  const now = defaults.now ?? Date.now;
  const clientAddress = defaults.clientAddress ?? socketAddress;
  const badAttempts = new RateLimiter({ ratePerMinute: defaults.badAttemptsPerMinute ?? 30, maxBuckets: defaults.maxTrackedClients ?? 10_000 });

  const tooManyBad = (c: Context, seconds: number) =>
    errorResponse(c, 429, "rate_limited", `too many requests with invalid API keys from this address; retry in ${seconds} s`, { "Retry-After": String(seconds) }, { retryAfterSeconds: seconds });

  const authorize: Authorizer = async (c, scope) => {
    const t = now();
    const client = clientAddress(c);
    const blocked = badAttempts.wait(client, t);
    if (blocked > 0) return tooManyBad(c, blocked);

    const header = c.req.header("authorization");
    const token = bearerToken(header);
    let record: ApiKeyRecord | undefined;
    if (token !== undefined) record = store.verify(token);
    if (!record) {
      // Each bad attempt spends from the address's bucket; the one that empties it still gets its 401.
      badAttempts.take(client, t);
      const missing = header === undefined || header.trim() === "";
      return errorResponse(
        c,
        401,
        "unauthorized",
        missing
          ? "this route needs an API key: send Authorization: Bearer <key> (create one with `ragtune keys create --scope query`)"
          : token === undefined
            ? "malformed Authorization header: expected Bearer <key>"
            : "invalid API key (unknown or revoked)",
        { "WWW-Authenticate": missing ? 'Bearer realm="ragtune"' : 'Bearer realm="ragtune", error="invalid_token"' },
      );
    }
    if (scope === "admin" && record.scope !== "admin") {
      return errorResponse(c, 403, "forbidden", `this route needs an admin key; key ${record.id} has scope '${record.scope}'`);
    }
    const taken = limiter.take(record.id, t, record.rateLimitPerMinute ?? defaults.rateLimitPerMinute);
    if (!taken.ok) {
      return errorResponse(
        c,
        429,
        "rate_limited",
        `key ${record.id} is over its limit of ${record.rateLimitPerMinute ?? defaults.rateLimitPerMinute} requests a minute; retry in ${taken.retryAfterSeconds} s`,
        { "Retry-After": String(taken.retryAfterSeconds) },
        { retryAfterSeconds: taken.retryAfterSeconds },
      );
    }
    c.set(API_KEY_VAR as never, record as never);
    return undefined;
  };
  return Object.assign(authorize, { trackedClients: () => badAttempts.size });
}
