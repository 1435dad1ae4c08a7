/**
 * The OpenAI-compatible endpoint of `ragtune serve`, driven by the official `openai` npm client
 * pointed at the in-process server on a random loopback port: a plain completion, a streamed
 * one (SSE chunks ending in [DONE]), and the client's error for a bad request.
 */
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import OpenAI from "openai";
import { makeTinyProject } from "./helpers/project.ts";
import { loadConfig } from "../src/config/index.ts";
import { openProject, type Project } from "../src/pipeline/index.ts";
import { ingestProject } from "../src/ingest/index.ts";
import { startServe, type RunningServe } from "../src/serve/index.ts";

let project: Project;
let server: RunningServe;
let client: OpenAI;

before(async () => {
  const root = makeTinyProject();
  project = openProject(loadConfig(join(root, "ragtune.yaml")));
  await ingestProject({ root, sources: project.config.sources, chunking: project.config.chunking, store: project.store });
  server = await startServe({ project, port: 0 });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused-locally", maxRetries: 0, timeout: 10_000 });
});

after(async () => {
  await server.close();
  project.close();
});

const QUESTION = "Within how many days can an annual plan be refunded?";

test("chat.completions.create answers the last user message from the index, with ragtune's fields", async () => {
  const reply = await client.chat.completions.create({
    model: "anything",
    messages: [
      { role: "system", content: "You are helpful." },
      { role: "user", content: "How long do deleted cards stay in the trash?" },
      { role: "assistant", content: "60 days." },
      { role: "user", content: QUESTION },
    ],
  });
  assert.equal(reply.object, "chat.completion");
  assert.equal(reply.model, "ragtune:rag:offline:extractive");
  assert.equal(reply.choices.length, 1);
  assert.equal(reply.choices[0].finish_reason, "stop");
  assert.match(reply.choices[0].message.content ?? "", /30 days/);
  const extra = (reply as unknown as { ragtune: { requestId: string; citations: { path: string }[]; served: { index: { generation: number } } } }).ragtune;
  assert.equal(extra.citations[0].path, "docs/v2/billing.md");
  assert.equal(extra.served.index.generation, project.store.generation());
  assert.equal(reply.id, `chatcmpl-${extra.requestId}`);
  // Logged like /v1/ask, under its own route.
  const row = server.app.requestLog!.get(extra.requestId)!;
  assert.equal(row.route, "/v1/chat/completions");
  assert.equal(row.query, QUESTION);
});

test("stream: true yields chunks whose deltas add up to the non-streamed answer", async () => {
  const plain = await client.chat.completions.create({ model: "x", messages: [{ role: "user", content: QUESTION }] });
  const stream = await client.chat.completions.create({ model: "x", messages: [{ role: "user", content: QUESTION }], stream: true });
  let text = "";
  let chunks = 0;
  let finish: string | null = null;
  let role: string | undefined;
  for await (const chunk of stream) {
    chunks++;
    assert.equal(chunk.object, "chat.completion.chunk");
    const choice = chunk.choices[0];
    role ??= choice.delta.role;
    text += choice.delta.content ?? "";
    if (choice.finish_reason) finish = choice.finish_reason;
  }
  assert.equal(role, "assistant");
  assert.equal(finish, "stop");
  assert.ok(chunks >= 3, `only ${chunks} chunks`);
  assert.equal(text, plain.choices[0].message.content);
});

test("the raw stream is server-sent events ending in data: [DONE]", async () => {
  const res = await fetch(`${server.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ messages: [{ role: "user", content: QUESTION }], stream: true }),
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
  const events = (await res.text()).split("\n\n").filter((e) => e.trim());
  assert.equal(events.at(-1), "data: [DONE]");
  assert.ok(events.every((e) => e.startsWith("data: ")));
});

test("a bad request surfaces as the client's 400 error naming the field", async () => {
  await assert.rejects(
    client.chat.completions.create({ model: "x", messages: [{ role: "system", content: "only a system message" }] }),
    (err: unknown) => {
      assert.ok(err instanceof OpenAI.APIError);
      assert.equal(err.status, 400);
      assert.match(JSON.stringify(err.error), /"field":"messages"/);
      return true;
    },
  );
});
