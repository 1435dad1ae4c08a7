/**
 * `ragtune view`: a read-only web app over the project's runs/ (hono). Every route reads the run
 * files on each request, so a run that finishes while the viewer is open shows up on reload.
 *
 * Read-only: only GET/HEAD are answered. Bound to 127.0.0.1 by default; when bound to a loopback
 * address, a request whose Host header names another host is refused, so a web page elsewhere
 * cannot read the runs through DNS rebinding.
 */
import { join, resolve } from "node:path";
import { Hono, type Context } from "hono";
import { serve, type ServerType } from "@hono/node-server";
import { decide } from "../decide/index.ts";
import { buildReport, failedCaseRows, loadCaseContext, renderHtml } from "../report/index.ts";
import { runsDir } from "../evaluate/runs.ts";
import {
  alphaOf,
  caseResults,
  compareResults,
  filterCases,
  history,
  listRunListings,
  loadRun,
  NotFound,
  runIds,
  variantsOf,
  type CaseFilter,
  type ViewSource,
} from "./data.ts";
import {
  casePage,
  casesPage,
  comparePage,
  comparePickerPage,
  errorPage,
  historyPage,
  incompleteRunPage,
  layout,
  notFoundPage,
  runListPage,
  runNav,
  VIEW_CSP,
} from "./pages.ts";
import { esc } from "../report/html.ts";

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The host part of a Host header ("[::1]:8080" → "[::1]", "localhost:3000" → "localhost"). */
function hostOf(header: string): string {
  return header.startsWith("[") ? header.slice(0, header.indexOf("]") + 1) : header.split(":")[0];
}

function html(c: Context, body: string, status: 200 | 400 | 404 | 500 = 200) {
  c.header("Content-Security-Policy", VIEW_CSP);
  c.header("X-Content-Type-Options", "nosniff");
  c.header("Cache-Control", "no-store");
  return c.html(body, status);
}

export interface ViewAppOptions {
  /** Refuse requests whose Host header is not a loopback name (default true). */
  loopbackOnly?: boolean;
}

export function createViewApp(src: ViewSource, options: ViewAppOptions = {}): Hono {
  const app = new Hono();
  const loopbackOnly = options.loopbackOnly ?? true;

  app.use("*", async (c, next) => {
    if (c.req.method !== "GET" && c.req.method !== "HEAD") return html(c, errorPage("the viewer is read-only: only GET requests"), 400);
    if (loopbackOnly && !isLoopback(hostOf(c.req.header("host") ?? "localhost"))) {
      return html(c, errorPage("this viewer answers only requests addressed to localhost"), 400);
    }
    await next();
  });

  app.get("/", (c) => html(c, runListPage(listRunListings(src), runsDir(src.root, src.config))));

  app.get("/runs/:id", async (c) => {
    const run = loadRun(src, c.req.param("id"));
    if (run.summaryProblem) throw new Error(run.summaryProblem);
    if (!run.summary) return html(c, incompleteRunPage(run));
    const decision = decide(run.summary, run.cases, src.config);
    const report = buildReport(run.summary, run.cases, decision, src.config);
    const ctx = loadCaseContext(run.dir, join(resolve(src.root, src.config.storeDir), "index.db"));
    const rows = failedCaseRows(run.cases, report.variants.map((v) => v.name), ctx);
    const page = await renderHtml({ report, rows, notes: ctx.notes });
    c.header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'");
    c.header("Cache-Control", "no-store");
    return c.html(page.replace("<body>", `<body>${runNav(run, variantsOf(run))}`));
  });

  app.get("/runs/:id/cases", (c) => {
    const run = loadRun(src, c.req.param("id"));
    const q = c.req.query();
    const f: CaseFilter = { variant: q.variant || undefined, cause: q.cause || undefined, tag: q.tag || undefined, task: q.task || undefined };
    return html(c, casesPage(run, variantsOf(run), f, filterCases(run.cases, f)));
  });

  app.get("/runs/:id/cases/:caseId", (c) => {
    const run = loadRun(src, c.req.param("id"));
    const caseId = c.req.param("caseId");
    return html(c, casePage(run, caseId, caseResults(run, caseId), c.req.query("variant") || undefined));
  });

  app.get("/runs/:id/compare", (c) => {
    const run = loadRun(src, c.req.param("id"));
    const variants = variantsOf(run);
    const { a, b } = c.req.query();
    const action = `/runs/${encodeURIComponent(run.id)}/compare`;
    const head = `<h1>Compare variants of run <a href="/runs/${esc(encodeURIComponent(run.id))}">${esc(run.id)}</a></h1>`;
    if (variants.length < 2) return html(c, layout("compare", `${head}<p>This run has only ${esc(variants.join(", ") || "no variants")}: nothing to compare.</p>`));
    const picker = comparePickerPage(action, "variants", variants, a, b);
    if (!a || !b) return html(c, layout("compare", head + picker));
    for (const v of [a, b]) if (!variants.includes(v)) throw new NotFound(`run ${run.id} has no variant '${v}'; it ran ${variants.join(", ")}`);
    const cmp = compareResults(`${a} → ${b}`, run.cases.filter((r) => r.variant === a), run.cases.filter((r) => r.variant === b), alphaOf(src.config));
    return html(c, layout(`compare ${a} → ${b}`, head + picker + comparePage(cmp, { a, b, runId: run.id })));
  });

  app.get("/compare", (c) => {
    const ids = runIds(src).reverse();
    const { a, b, variant } = c.req.query();
    const head = `<h1>Compare two runs</h1>`;
    if (ids.length < 2) return html(c, layout("compare", `${head}<p>Comparing needs two runs; there ${ids.length === 1 ? "is one" : "are none"}.</p>`));
    const picker = comparePickerPage("/compare", "runs", ids, a ?? ids[1], b ?? ids[0], "a is the earlier run, b the later; cases are paired by case id within each variant both runs ran.");
    if (!a || !b) return html(c, layout("compare", head + picker));
    const ra = loadRun(src, a);
    const rb = loadRun(src, b);
    const common = variantsOf(ra).filter((v) => variantsOf(rb).includes(v) && (!variant || v === variant));
    const sections = common.map((v) =>
      comparePage(compareResults(`${v}: ${a} → ${b}`, ra.cases.filter((r) => r.variant === v), rb.cases.filter((r) => r.variant === v), alphaOf(src.config)), { a: `${a}`, b: `${b}` }),
    );
    const none = common.length ? "" : `<p>The two runs share no variant${variant ? ` named ${esc(variant)}` : ""}.</p>`;
    return html(c, layout(`compare ${a} → ${b}`, head + picker + none + sections.join("\n")));
  });

  app.get("/history", (c) => html(c, historyPage(history(src))));

  app.notFound((c) => html(c, notFoundPage(`no page at ${c.req.path}`, { label: "the run list", href: "/" }), 404));

  // Never a stack trace: a missing run or case is a 404 with a did-you-mean; an unreadable file names itself.
  app.onError((err, c) => {
    if (err instanceof NotFound) return html(c, notFoundPage(err.message, err.suggestion), 404);
    return html(c, errorPage(err instanceof Error ? err.message : String(err)), 500);
  });

  return app;
}

export interface RunningView {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Start the viewer; port 0 picks a free port. Resolves once it is listening. */
export function startView(src: ViewSource, opts: { port: number; host: string }): Promise<RunningView> {
  const app = createViewApp(src, { loopbackOnly: isLoopback(opts.host) });
  return new Promise((resolvePromise, reject) => {
    let server: ServerType;
    const onError = (err: Error) => reject(err);
    server = serve({ fetch: app.fetch, port: opts.port, hostname: opts.host }, (info) => {
      server.off("error", onError);
      const host = info.family === "IPv6" ? `[${info.address}]` : info.address;
      resolvePromise({
        url: `http://${host}:${info.port}/`,
        port: info.port,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
    server.once("error", onError);
  });
}
