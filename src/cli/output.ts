/** Small terminal helpers: colour only on a TTY (and never with NO_COLOR), aligned tables. */
const useColor = () => Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
const wrap = (code: string) => (s: string) => (useColor() ? `\u001b[${code}m${s}\u001b[0m` : s);
export const bold = wrap("1");
export const dim = wrap("2");
export const green = wrap("32");
export const red = wrap("31");
export const yellow = wrap("33");
export const cyan = wrap("36");

export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  return [bold(line(headers)), ...cells.slice(1).map(line)].join("\n");
}

export const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
export const usd = (x: number) => (x < 0.01 && x > 0 ? `$${x.toFixed(5)}` : `$${x.toFixed(2)}`);

/** stderr progress line, only when interactive (CI logs stay clean). */
export function progress(text: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\u001b[2K${text}`);
}
export function progressDone(): void {
  if (process.stderr.isTTY) process.stderr.write("\r\u001b[2K");
}
