/**
 * The material scenarios are made of, generated deterministically: help pages with one distinct
 * fact each (and the questions about them), pricing pages for questions that need arithmetic,
 * and support tickets for classification with readable or opaque label names.
 */

/** Made-up module names: distinct words so BM25 finds the right page and no generator knows them. */
export const MODULES = [
  "Zephyr", "Quillon", "Marrow", "Bristle", "Tamarin", "Ostrava", "Vellum", "Cobalt", "Pennant", "Sorrel",
  "Juniper", "Halyard", "Fennec", "Lantern", "Mosaic", "Gimbal", "Ridley", "Tundra", "Wicket", "Yarrow",
];
const THINGS = ["exported reports", "archived boards", "deleted attachments", "audit entries", "draft invoices", "chat transcripts"];

export interface Fact {
  module: string;
  page: string;
  question: string;
  paraphrases: string[];
  answer: string;
}

/** `n` facts, each on its own page: "The Zephyr module keeps exported reports for 45 days". */
export function facts(n: number, offset = 0): Fact[] {
  return Array.from({ length: n }, (_, j) => {
    const i = j + offset;
    const module = MODULES[i % MODULES.length];
    const thing = THINGS[i % THINGS.length];
    const days = 17 + ((i * 7) % 80);
    return {
      module,
      page: `modules/${module.toLowerCase()}.md`,
      question: `How many days does the ${module} module keep ${thing}?`,
      // Paraphrases share the question's content words (the memoriser matches by tf-idf cosine)
      // but not its wording, so decontamination keeps them.
      paraphrases: [
        `Number of days the ${module} module will keep ${thing}?`,
        `${module} module: how many days are ${thing} kept?`,
        `for how many days will ${module} keep my ${thing}`,
        `days that ${thing} stay in the ${module} module before they are deleted`,
      ],
      answer: `${days} days`,
    };
  });
}

/** The help page for a fact, with some filler so pages are realistic paragraphs. */
export function factPage(f: Fact): string {
  const thing = /keep (.*)\?$/.exec(f.question)![1];
  return [
    `# The ${f.module} module`,
    "",
    `The ${f.module} module is part of the Acme workspace. Admins enable it from the settings page.`,
    "",
    `## Retention`,
    "",
    `The ${f.module} module keeps ${thing} for ${f.answer}. After that they are removed permanently and cannot be restored.`,
    "",
    `## Permissions`,
    "",
    `Only workspace admins can change who sees the ${f.module} module.`,
    "",
  ].join("\n");
}

export function factDocs(list: Fact[]): Record<string, string> {
  return Object.fromEntries(list.map((f) => [f.page, factPage(f)]));
}

export function factCases(list: Fact[]): Record<string, unknown>[] {
  return list.map((f, i) => ({ id: `kb-${i + 1}`, task: "qa", input: f.question, answer: f.answer, sources: [`docs/${f.page}`] }));
}

/** Memoriser training rows: the paraphrases of each fact (never the suite question itself). */
export function factTraining(list: Fact[]): { input: string; output: string }[] {
  return list.flatMap((f) => f.paraphrases.map((p) => ({ input: p, output: `${f.module} keeps them for ${f.answer}.` })));
}

/** Pricing pages whose questions need arithmetic: the price is on the page, the total is not. */
export function pricingDocs(n: number): { docs: Record<string, string>; cases: Record<string, unknown>[] } {
  const docs: Record<string, string> = {};
  const cases: Record<string, unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const plan = MODULES[i % MODULES.length];
    const price = 5 + i * 3;
    const seats = 3 + (i % 4);
    docs[`pricing/${plan.toLowerCase()}.md`] = [
      `# ${plan} plan pricing`,
      "",
      `The ${plan} plan costs ${price} dollars per seat each month, billed monthly.`,
      "",
      `Seats can be added or removed at any time from the billing page.`,
      "",
    ].join("\n");
    cases.push({
      id: `calc-${i + 1}`,
      task: "qa",
      input: `What is the total yearly cost of the ${plan} plan for ${seats} seats?`,
      answer: `${price * seats * 12} dollars`,
      sources: [`docs/pricing/${plan.toLowerCase()}.md`],
    });
  }
  return { docs, cases };
}

/** Ticket themes: vocabulary customers use, which a readable label name may or may not share. */
export const THEMES: { name: string; words: string[] }[] = [
  { name: "billing", words: ["invoice", "charge", "refund", "receipt", "payment"] },
  { name: "login", words: ["password", "sign-in", "2fa", "locked", "authenticator"] },
  { name: "shipping", words: ["parcel", "courier", "tracking", "delivery", "package"] },
  { name: "crash", words: ["freezes", "error", "crashes", "blank screen", "stack trace"] },
  { name: "export", words: ["csv", "spreadsheet", "download", "backup file", "xlsx"] },
  { name: "privacy", words: ["gdpr", "personal data", "erasure", "dpa", "consent"] },
  { name: "webhooks", words: ["callback url", "payload", "retries", "endpoint", "signature"] },
  { name: "seats", words: ["licence", "add users", "remove users", "headcount", "members"] },
  { name: "mobile", words: ["iphone", "android", "tablet", "app store", "push notification"] },
  { name: "import", words: ["migrate", "upload old", "bring in", "from trello", "mapping"] },
  { name: "calendar", words: ["due date", "timeline", "schedule", "reminder", "week view"] },
  { name: "api", words: ["token", "rate limit", "429", "endpoint v2", "pagination"] },
];
const OPENERS = ["Hi team,", "Hello,", "Urgent:", "Quick question -", "Good morning,", "Hey,", "Help please:", "Dear support,"];
const CLOSERS = ["thanks", "what should I do?", "please advise", "any idea?", "cheers", "can you check?", "regards", "asap please"];

function ticketText(theme: number, i: number): string {
  const w = THEMES[theme].words;
  const a = w[i % w.length];
  const b = w[(i * 3 + 1) % w.length];
  return `${OPENERS[i % OPENERS.length]} ticket ${i}: something about ${a} and ${b === a ? w[(i + 2) % w.length] : b}, ${CLOSERS[(i * 5) % CLOSERS.length]}`;
}

/**
 * Label of a theme: the readable name, or an opaque queue code ("Q07") whose description says
 * nothing a customer writes — the label only becomes learnable from labelled examples.
 */
export function labelOf(theme: number, opaque: boolean): string {
  return opaque ? `Q${String(theme + 1).padStart(2, "0")}` : THEMES[theme].name;
}

export function ticketLabels(opaque: boolean, themes = THEMES.length): unknown[] {
  return THEMES.slice(0, themes).map((t, i) => (opaque ? { name: labelOf(i, true), description: `Routing queue number ${i + 1}.` } : { name: t.name }));
}

/**
 * Classify cases. With readable labels each text also names its label word ("about my billing"),
 * which the prompt-only lexical classifier picks up; opaque labels give it nothing to match.
 * Cases skip theme 0: with no overlap the lexical classifier falls back to the first label.
 */
export function ticketCases(n: number, opaque: boolean, themes = THEMES.length): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => {
    const theme = 1 + (i % (themes - 1));
    const text = ticketText(theme, 1000 + i * 7);
    return { id: `ticket-${i + 1}`, task: "classify", input: opaque ? text : `${text} (my ${THEMES[theme].name} issue)`, label: labelOf(theme, opaque) };
  });
}

/** Labelled training tickets (distinct from the suite's texts). `shuffle` assigns labels that ignore the text. */
export function ticketTraining(n: number, opaque: boolean, options: { shuffle?: boolean; themes?: number } = {}): { input: string; output: string }[] {
  const themes = options.themes ?? THEMES.length;
  return Array.from({ length: n }, (_, i) => {
    const theme = i % themes;
    const label = options.shuffle ? labelOf((i * 5 + Math.floor(i / themes)) % themes, opaque) : labelOf(theme, opaque);
    return { input: ticketText(theme, i), output: label };
  });
}

/** A few neutral pages so the index is not empty for classification-only projects. */
export function policyDocs(): Record<string, string> {
  return {
    "routing.md": "# How tickets are routed\n\nEvery ticket goes to one routing queue. Agents in that queue answer within one business day.\n",
    "hours.md": "# Support hours\n\nSupport answers tickets Monday to Friday, 8:00 to 18:00 CET.\n",
  };
}
