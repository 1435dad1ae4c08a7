// The deployment examples (deploy/) are not run here (no container engine on this machine), so
// this checks what can be checked without one: every file parses, the probes and ports are wired
// to the routes `ragtune serve` has, every referenced ConfigMap / Secret / claim / service exists,
// and the ragtune.yaml they carry is a valid config.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import { parseConfig } from "../src/config/index.ts";

const ROOT = join(import.meta.dirname, "..");
const DEPLOY = join(ROOT, "deploy");
const K8S = join(DEPLOY, "kubernetes");

type Obj = Record<string, any>;

export function loadManifests(dir: string): Obj[] {
  const docs: Obj[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".yaml")).sort()) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, file), "utf8"))) {
      assert.deepEqual(doc.errors.map(String), [], `${file} parses`);
      const value = doc.toJS();
      if (value == null) continue;
      assert.ok(value.apiVersion && value.kind && value.metadata?.name, `${file}: a document without apiVersion/kind/metadata.name`);
      docs.push({ ...value, __file: file });
    }
  }
  return docs;
}

/** Every name a manifest refers to, by kind. */
export function references(docs: Obj[]): { configMaps: Set<string>; secrets: Set<string>; claims: Set<string> } {
  const refs = { configMaps: new Set<string>(), secrets: new Set<string>(), claims: new Set<string>() };
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (!v || typeof v !== "object") return;
    const o = v as Obj;
    if (o.configMapKeyRef?.name) refs.configMaps.add(o.configMapKeyRef.name);
    if (o.configMapRef?.name) refs.configMaps.add(o.configMapRef.name);
    if (o.configMap?.name) refs.configMaps.add(o.configMap.name);
    if (o.secretKeyRef?.name) refs.secrets.add(o.secretKeyRef.name);
    if (o.secretRef?.name) refs.secrets.add(o.secretRef.name);
    if (o.secret?.secretName) refs.secrets.add(o.secret.secretName);
    if (o.persistentVolumeClaim?.claimName) refs.claims.add(o.persistentVolumeClaim.claimName);
    Object.values(o).forEach(walk);
  };
  docs.forEach(walk);
  return refs;
}

const named = (docs: Obj[], kind: string) => new Set(docs.filter((d) => d.kind === kind).map((d) => d.metadata.name as string));
const find = (docs: Obj[], kind: string, name: string) => {
  const d = docs.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(d, `${kind} ${name} is defined`);
  return d!;
};

/** A config carried by the examples: valid for the config schema, its store on Postgres with no password in the URL. */
function checkRagtuneYaml(text: string, where: string): Obj {
  const raw = parseYaml(text) as Obj;
  assert.equal(raw.store?.kind, "postgres", `${where}: store.kind`);
  assert.match(raw.store?.url ?? "", /^postgres:\/\/[^:@/]+@[^/:]+:\d+\/\w+$/, `${where}: store.url has no password (PGPASSWORD carries it)`);
  parseConfig(JSON.stringify(raw), where); // throws naming the key
  return raw;
}

test("kubernetes: every manifest parses; every referenced ConfigMap, Secret and claim is defined", () => {
  const docs = loadManifests(K8S);
  const refs = references(docs);
  assert.ok(refs.configMaps.size > 0 && refs.secrets.size > 0, "the pods take config and secrets from somewhere");
  for (const n of refs.configMaps) assert.ok(named(docs, "ConfigMap").has(n), `ConfigMap ${n} is referenced but not defined`);
  for (const n of refs.secrets) assert.ok(named(docs, "Secret").has(n), `Secret ${n} is referenced but not defined`);
  const claims = new Set([...named(docs, "PersistentVolumeClaim")]);
  for (const n of refs.claims) assert.ok(claims.has(n), `PersistentVolumeClaim ${n} is referenced but not defined`);
  // No secret value in a ConfigMap: a provider key or password there would be readable by anyone who can read config.
  for (const cm of docs.filter((d) => d.kind === "ConfigMap")) {
    for (const text of Object.values(cm.data) as string[]) {
      assert.doesNotMatch(text, /\/\/[^/\s:@]+:[^/\s@]+@/, `${cm.metadata.name}: credentials in a URL`);
      assert.doesNotMatch(text, /^\s*(password|apiKey|api_key|token)\s*:/im, `${cm.metadata.name}: a secret-looking key`);
    }
  }
});

test("kubernetes: API Deployment has 2+ serve replicas on 0.0.0.0, probes on /healthz and /readyz at the container port, a Service that reaches them", () => {
  const docs = loadManifests(K8S);
  const api = find(docs, "Deployment", "ragtune-api");
  assert.ok(api.spec.replicas >= 2, "2+ replicas");
  assert.deepEqual(api.spec.selector.matchLabels, api.spec.template.metadata.labels);
  const [c] = api.spec.template.spec.containers;
  assert.deepEqual(c.args.slice(0, 3), ["serve", "--host", "0.0.0.0"]);
  const port = Number(c.args[c.args.indexOf("--port") + 1]);
  const http = c.ports.find((p: Obj) => p.containerPort === port);
  assert.ok(http, `a container port is the --port the server listens on (${port})`);
  const probePort = (p: Obj) => (p.httpGet.port === http.name ? port : p.httpGet.port);
  assert.equal(c.livenessProbe.httpGet.path, "/healthz");
  assert.equal(c.readinessProbe.httpGet.path, "/readyz");
  assert.equal(probePort(c.livenessProbe), port);
  assert.equal(probePort(c.readinessProbe), port);
  const svc = find(docs, "Service", "ragtune-api");
  for (const [k, v] of Object.entries(svc.spec.selector)) assert.equal(api.spec.template.metadata.labels[k], v, `Service selector ${k}`);
  const target = svc.spec.ports[0].targetPort;
  assert.ok(target === http.name || target === port, "Service targetPort is the server's port");
  // The config the pods mount is the ConfigMap's ragtune.yaml, at the project root.
  const mount = c.volumeMounts.find((m: Obj) => m.mountPath === "/project/ragtune.yaml");
  const vol = api.spec.template.spec.volumes.find((v: Obj) => v.name === mount?.name);
  assert.equal(vol?.configMap?.name, "ragtune-config");
});

test("kubernetes: workers take --queue redis:// on a defined Service; the config's store URL names the Postgres Service", () => {
  const docs = loadManifests(K8S);
  const services = named(docs, "Service");
  const worker = find(docs, "Deployment", "ragtune-worker");
  assert.ok(worker.spec.replicas >= 1);
  const args: string[] = worker.spec.template.spec.containers[0].args;
  assert.equal(args[0], "worker");
  const url = new URL(args[args.indexOf("--queue") + 1].replace("$(REDIS_PASSWORD)", "x"));
  assert.equal(url.protocol, "redis:");
  assert.ok(services.has(url.hostname), `--queue host ${url.hostname} is a Service`);
  const env = worker.spec.template.spec.containers[0].env.map((e: Obj) => e.name);
  assert.ok(env.includes("REDIS_PASSWORD"), "$(REDIS_PASSWORD) in args is defined in env (else Kubernetes leaves it literal)");
  const cfg = checkRagtuneYaml(find(docs, "ConfigMap", "ragtune-config").data["ragtune.yaml"], "ConfigMap ragtune-config");
  assert.ok(services.has(new URL(cfg.store.url).hostname), "store.url host is a Service");
  assert.equal(readFileSync(join(DEPLOY, "ragtune.yaml"), "utf8").includes("kind: postgres"), true);
});

test("docker-compose: parses; api serves on 0.0.0.0 with a /readyz healthcheck; references resolve; Dockerfile's entrypoint exists", () => {
  const compose = parseYaml(readFileSync(join(DEPLOY, "docker-compose.yml"), "utf8"), { merge: true }) as Obj;
  const services = compose.services as Obj;
  const api = services.api;
  assert.deepEqual(api.command.slice(0, 3), ["serve", "--host", "0.0.0.0"]);
  assert.ok(api.deploy.replicas >= 2);
  assert.match(api.healthcheck.test.join(" "), /\/readyz/);
  assert.match(services.worker.command.join(" "), /^worker --queue redis:\/\/.*@redis:6379$/);
  for (const [name, svc] of Object.entries(services) as [string, Obj][]) {
    for (const dep of Object.keys(svc.depends_on ?? {})) assert.ok(services[dep], `${name} depends on undefined service ${dep}`);
    for (const v of svc.volumes ?? []) {
      const [src] = String(v).split(":");
      if (src.startsWith(".")) assert.ok(existsSync(join(DEPLOY, src)), `${name} mounts missing ${src}`);
      else assert.ok(src in (compose.volumes ?? {}), `${name} uses undefined volume ${src}`);
    }
  }
  const cfg = checkRagtuneYaml(readFileSync(join(DEPLOY, "ragtune.yaml"), "utf8"), "deploy/ragtune.yaml");
  assert.ok(services[new URL(cfg.store.url).hostname], "store.url host is a compose service");
  assert.equal(api.build.dockerfile, "deploy/Dockerfile");
  const dockerfile = readFileSync(join(DEPLOY, "Dockerfile"), "utf8");
  const entry = /ENTRYPOINT \["node", "\/app\/(bin\/ragtune\.js)"\]/.exec(dockerfile);
  assert.ok(entry && existsSync(join(ROOT, entry[1])), "ENTRYPOINT runs the checkout's bin/ragtune.js");
  for (const [, src] of dockerfile.matchAll(/^COPY (?!--)(\S+)/gm)) assert.ok(existsSync(join(ROOT, src)), `Dockerfile copies missing ${src}`);
});
