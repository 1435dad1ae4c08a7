/**
 * `X-Ragtune-Traffic`: evaluation or synthetic requests say so, and are logged as such so the
 * monitors can leave them out (docs/serve.md). Live is the default.
 */
import type { Context } from "hono";
import { ApiError } from "./http.ts";
import { TRAFFIC_KINDS, type Traffic } from "./log.ts";

export const TRAFFIC_HEADER = "x-ragtune-traffic";

const kindOf = (raw: string): Traffic | undefined => {
  const value = raw.trim().toLowerCase();
  return TRAFFIC_KINDS.find((k) => k === value);
};

/** The traffic kind a request declares; 422 naming the header for anything but eval / synthetic (or live). */
export function trafficOf(c: Context): Traffic {
  const raw = c.req.header(TRAFFIC_HEADER);
  if (raw === undefined) return "live";
  const kind = kindOf(raw);
  if (!kind) throw new ApiError(422, "invalid_request", "X-Ragtune-Traffic", `header X-Ragtune-Traffic is '${raw.slice(0, 40)}'; expected eval or synthetic (or live, the default)`);
  return kind;
}

/** The request counter's label: one of the kinds, or "invalid" (bounded cardinality whatever clients send). */
export function trafficLabel(c: Context): string {
  const raw = c.req.header(TRAFFIC_HEADER);
  return raw === undefined ? "live" : (kindOf(raw) ?? "invalid");
}
