/** Schema-guided extraction rules for versions, package names, routes, bounded numbers and flags. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { extractBySchema } from "../src/models/offline-extract.ts";

test("versions: nearest to the name's qualifier, leading v dropped unless asked for; ranges kept when written as a range", () => {
  const schema = {
    type: "object",
    properties: {
      app_version: { type: "string", description: "digits and dots only (no leading v)" },
      node_version: { type: "string", description: "digits and dots only (no leading v)" },
    },
  };
  assert.deepEqual(extractBySchema("We run app 3.2.0 on node v18.19.1 (Debian 12.5).", schema), { app_version: "3.2.0", node_version: "18.19.1" });
  assert.deepEqual(extractBySchema("`node -v` prints v21.0.0 and `app --version` says 2.0.0-rc.1", schema), { app_version: "2.0.0-rc.1", node_version: "21.0.0" });
  const range = { type: "object", properties: { version: { type: "string", description: "Version range exactly as the user wrote it" } } };
  assert.deepEqual(extractBySchema("please add left-pad ~1.3.0 to the app", range), { version: "~1.3.0" });
  assert.deepEqual(extractBySchema("please add left-pad ~1.3.0 to the app", { type: "object", properties: { version: { type: "string" } } }), { version: "1.3.0" });
});

test("package names are the word written before a version; routes and paths are taken as written", () => {
  const schema = { type: "object", properties: { package: { type: "string" }, version: { type: "string" }, route: { type: "string" } } };
  assert.deepEqual(extractBySchema("Upgrading @scope/http-kit@2.4.0 broke GET /v1/orders/:orderId/items.", schema), {
    package: "@scope/http-kit",
    version: "2.4.0",
    route: "/v1/orders/:orderId/items",
  });
  assert.deepEqual(extractBySchema("nothing versioned here, see http://example.test/docs", { type: "object", properties: { package: { type: "string" }, url: { type: "string" } } }), {
    url: "http://example.test/docs",
  });
});

test("bounded integers pick the one number in range that is not part of a version; flags need their head word, not negated", () => {
  const schema = {
    type: "object",
    properties: {
      status_code: { type: "integer", minimum: 100, maximum: 599 },
      dry_run: { type: "boolean" },
      verbose_output: { type: "boolean" },
    },
  };
  assert.deepEqual(extractBySchema("On v2.301.1, reply with 418 for every teapot request, as a dry run.", schema), { status_code: 418, dry_run: true });
  assert.deepEqual(extractBySchema("Do not make it a dry run; output should be verbose.", schema).dry_run, false);
  assert.equal(extractBySchema("Reply 42 or 7000.", schema).status_code, undefined, "no number in 100–599");
});
