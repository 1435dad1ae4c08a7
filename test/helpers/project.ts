/** A tiny on-disk project for runner and CLI tests: three docs in two versions and a small suite. */
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function makeTinyProject(extraConfig = ""): string {
  const root = mkdtempSync(join(tmpdir(), "ragtune-tiny-"));
  const w = (p: string, s: string) => {
    mkdirSync(join(root, p, ".."), { recursive: true });
    writeFileSync(join(root, p), s);
  };
  w(
    "docs/v2/billing.md",
    `---\ntitle: Billing\ntags: [billing, payments]\n---\n# Billing\n\n## Refunds\n\nAnnual plans can be refunded within 30 days of payment. Monthly plans are never refundable.\n\n## Payment methods\n\nWe accept Visa, Mastercard and American Express cards for every plan.\n`,
  );
  w(
    "docs/v1/billing.md",
    `---\ntitle: Billing\n---\n# Billing\n\n## Refunds\n\nAnnual plans can be refunded within 14 days of payment. Monthly plans are never refundable.\n`,
  );
  w(
    "docs/v2/trash.md",
    `# Trash\n\n## Retention\n\nDeleted cards stay in the trash for 60 days before they are permanently deleted. Admins can restore them from the trash page.\n`,
  );
  w(
    "ragtune.yaml",
    `name: tiny\nsources:\n  - include: "docs/v2/**/*.md"\n    version: v2\n  - include: "docs/v1/**/*.md"\n    version: v1\nsuite: suite.yaml\nconstraints:\n  knowledgeChange: weekly\n  citationsRequired: true\n${extraConfig}`,
  );
  w(
    "suite.yaml",
    `labels:
  - name: billing
    description: charges, invoices, refunds, payment methods
  - name: bug_report
    description: something is broken, error, crash, does not work
cases:
  - id: refund-window
    task: qa
    input: Within how many days can I get a refund on an annual plan?
    answer: "30 days"
    stale_answers: ["14 days"]
    sources: [docs/v2/billing.md]
  - id: trash
    task: qa
    input: How long are deleted cards kept in the trash?
    answer: "60 days"
    sources: [docs/v2/trash.md]
  - id: unanswerable
    task: qa
    input: Does the product run on a Commodore 64 with a tape drive?
    must_abstain: true
  - id: route-billing
    task: classify
    input: I was charged twice on my invoice, please refund one payment
    label: billing
  - id: route-bug
    task: classify
    input: The board page shows an error and crashes when I open it
    label: bug_report
  - id: extract-email
    task: extract
    input: "From: Dana <dana@example.com>. Our plan is pro and we need help."
    json_schema:
      type: object
      required: [email, plan]
      properties:
        email: {type: string, format: email}
        plan: {type: string, enum: [free, pro, business]}
    expected_json: {email: dana@example.com, plan: pro}
`,
  );
  return root;
}
