/**
 * Version order: which of a project's version labels is newest. Documentation is versioned
 * (docs/v8 and docs/v5, `11.x` … `2.x`, `current` and `legacy`), and everything that answers —
 * retrieval, the readers, long-context packing, the stale-knowledge diagnosis — must agree on
 * which copy of a fact is the current one. The order comes from, in this priority:
 *
 * 1. `versionOrder` in the config: labels newest first, exactly as declared;
 * 2. `sources[].current: true`: those labels are newest (in declaration order);
 * 3. natural order: words that mean current (`current`, `latest`, `stable`, `main` …) first, then
 *    unreleased words (`next`, `canary`, `beta` …), then labels by their numbers, highest first (`v10` > `v9`, `10.x` > `9.x`, `2.1` > `2.0`; a
 *    pre-release such as `v3-beta` ranks after `v3`), then other words in reverse alphabetical
 *    order, then words that mean old (`legacy`, `archived`, `deprecated` …).
 *
 * Rules 1 and 2 place the labels they name first; every other label follows in natural order.
 * The unlabelled "" is not a version: it ranks with the newest, so unversioned documents are
 * never treated as stale.
 */

const CURRENT_WORDS = new Set(["current", "latest", "stable", "main", "master", "head", "live", "production", "prod", "now", "today"]);
const OLD_WORDS = new Set(["legacy", "old", "older", "archive", "archived", "deprecated", "previous", "prev", "outdated", "eol", "obsolete", "historic", "historical", "unsupported"]);
const PRERELEASE_RE = /(?:^|[^a-z])(?:alpha|beta|rc|next|canary|preview|dev|nightly|pre|unreleased|experimental|insiders?)(?:[^a-z]|$)/i;
const COLLATOR = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

export interface VersionOrder {
  /** Known labels, newest first ("" excluded). */
  readonly labels: readonly string[];
  /** 0 for the newest label (and for ""); larger is older. Unknown labels are placed by natural order. */
  rank(label: string): number;
  /** Newest first: negative when `a` is newer than `b`. */
  compare(a: string, b: string): number;
  /** The newest of `labels` (undefined when empty); "" only when nothing else is given. */
  newest(labels: Iterable<string>): string | undefined;
  /** Whether the order was declared (`versionOrder` / `current`) rather than inferred. */
  readonly declared: boolean;
}

interface NaturalKey {
  group: number;
  numbers: number[];
  prerelease: boolean;
  label: string;
}

function naturalKey(label: string): NaturalKey {
  const lower = label.toLowerCase();
  const words = lower.split(/[^a-z]+/).filter(Boolean);
  const numbers = Array.from(lower.matchAll(/\d+/g), (m) => Number(m[0]));
  let group = 2;
  const prerelease = PRERELEASE_RE.test(lower);
  if (words.some((w) => CURRENT_WORDS.has(w)) && numbers.length === 0) group = 0;
  // "next", "canary": the unreleased docs, newer than any numbered release.
  else if (prerelease && numbers.length === 0) group = 0.5;
  else if (words.some((w) => OLD_WORDS.has(w))) group = 4;
  else if (numbers.length > 0) group = 1;
  return { group, numbers, prerelease, label };
}

/** Natural newest-first comparison of two labels (rule 3 above). */
export function compareNaturalDesc(a: string, b: string): number {
  if (a === b) return 0;
  const ka = naturalKey(a);
  const kb = naturalKey(b);
  if (ka.group !== kb.group) return ka.group - kb.group;
  if (ka.group === 1 || (ka.numbers.length > 0 && kb.numbers.length > 0)) {
    for (let i = 0; i < Math.max(ka.numbers.length, kb.numbers.length); i++) {
      const x = ka.numbers[i] ?? -1;
      const y = kb.numbers[i] ?? -1;
      if (x !== y) return y - x;
    }
    if (ka.prerelease !== kb.prerelease) return ka.prerelease ? 1 : -1;
  }
  return COLLATOR.compare(b, a);
}

export interface VersionOrderOptions {
  /** Labels present (in the config or the index). */
  labels: Iterable<string>;
  /** `versionOrder` from the config: newest first. */
  declared?: readonly string[];
  /** Labels of sources marked `current: true`, in declaration order. */
  current?: readonly string[];
}

export function versionOrder(options: VersionOrderOptions): VersionOrder {
  const first: string[] = [];
  for (const l of [...(options.declared ?? []), ...(options.current ?? [])]) if (l && !first.includes(l)) first.push(l);
  const rest = [...new Set(options.labels)].filter((l) => l !== "" && !first.includes(l)).sort(compareNaturalDesc);
  const labels = [...first, ...rest];
  const position = new Map(labels.map((l, i) => [l, i]));
  const rank = (label: string): number => {
    if (label === "") return 0;
    const known = position.get(label);
    if (known !== undefined) return known;
    // An unknown label: after the declared ones, where natural order puts it among the rest.
    let i = first.length;
    while (i < labels.length && compareNaturalDesc(labels[i], label) < 0) i++;
    return i + 0.5;
  };
  const compare = (a: string, b: string): number => rank(a) - rank(b) || (a === b ? 0 : compareNaturalDesc(a, b));
  return {
    labels,
    rank,
    compare,
    newest(candidates) {
      let best: string | undefined;
      for (const c of candidates) if (best === undefined || (best === "" && c !== "") || (c !== "" && compare(c, best) < 0)) best = c;
      return best;
    },
    declared: first.length > 0,
  };
}

/** A heading as a section key: letters and digits only, lower-cased ("autoInstallPeers" = "auto-install-peers"). */
export function sectionKey(heading: string): string {
  return heading.normalize("NFKC").toLowerCase().replace(/[^\p{L}\p{N}]+/gu, "");
}

/** Natural order over whatever labels appear (no config): what tests and benchmarks use. */
export const NATURAL_VERSION_ORDER: VersionOrder = versionOrder({ labels: [] });

/**
 * Version labels a question names: "in v7", "version 8", "pnpm 9.x", "the 10.x docs". A label
 * matches by its own text (word-bounded, case-insensitive) or by its leading number next to a
 * version cue ("v", "version", "release", ".x", or the project's name). Bare numbers do not
 * count: "port 8080" or "3 retries" name no version.
 */
export function versionsNamed(question: string, labels: readonly string[], projectName?: string): string[] {
  const q = question.toLowerCase();
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const named: string[] = [];
  const product = projectName && /^[a-z][\w.-]*$/i.test(projectName) ? escape(projectName.toLowerCase()) : undefined;
  for (const label of labels) {
    if (!label) continue;
    const own = new RegExp(`(?<![\\w.])${escape(label.toLowerCase())}(?![\\w])`);
    let hit = /[a-z]/i.test(label) || /\d+\.\d+|\.x/.test(label) ? own.test(q) : false;
    const major = /\d+(?:\.\d+)?/.exec(label)?.[0];
    if (!hit && major) {
      const n = escape(major);
      const cues = [`\\bv${n}(?:\\.x)?\\b`, `\\bversion[\\s-]*${n}(?:\\.x)?\\b`, `\\brelease[\\s-]*${n}\\b`, `(?<![\\w.])${n}\\.x\\b`];
      if (product) cues.push(`\\b${product}[\\s@-]*v?${n}(?:\\.x)?\\b`);
      hit = new RegExp(cues.join("|")).test(q);
    }
    if (hit) named.push(label);
  }
  return named;
}
