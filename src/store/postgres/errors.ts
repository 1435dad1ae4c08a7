/** Telling a lost connection (retry, or serve from memory) from a wrong query (report it). */

/** SQLSTATE classes and codes, and socket errors, that mean "the connection is gone", not "the query is wrong". */
export function isConnectionLoss(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === "string" ? e.code : "";
  if (/^08/.test(code) || ["57P01", "57P02", "57P03", "ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN"].includes(code)) return true;
  const message = typeof e?.message === "string" ? e.message : "";
  return /Connection terminated|connection timeout|terminating connection|the database system is (starting up|shutting down|in recovery)|Client has encountered a connection error|ECONNREFUSED|ECONNRESET/i.test(message);
}
