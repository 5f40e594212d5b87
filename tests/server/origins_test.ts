import assert from "node:assert/strict";
import { originAllowed, parseOrigins } from "../../lib/server/origins.ts";

function upgradeFrom(origin: string | null, host = "chat.example.com:8000"): Request {
  const headers = new Headers({ host });
  if (origin !== null) headers.set("origin", origin);
  return new Request(`http://${host}/ws`, { headers });
}

Deno.test("the page's own origin may connect over http or https when a proxy may terminate TLS", () => {
  assert.ok(originAllowed(upgradeFrom("http://chat.example.com:8000"), []));
  assert.ok(originAllowed(upgradeFrom("https://chat.example.com:8000"), []));
  assert.ok(originAllowed(upgradeFrom("https://chat.example.com", "chat.example.com"), []));
});

Deno.test("when the server serves TLS itself, only the page's https origin is its own", () => {
  assert.ok(originAllowed(upgradeFrom("https://chat.example.com:8000"), [], "https:"));
  assert.ok(!originAllowed(upgradeFrom("http://chat.example.com:8000"), [], "https:"));
});

Deno.test("another site's page is refused unless listed; a request without Origin is not from a page", () => {
  assert.ok(!originAllowed(upgradeFrom("https://evil.example"), []));
  assert.ok(!originAllowed(upgradeFrom("https://chat.example.com:9000"), [], "https:"));
  assert.ok(!originAllowed(upgradeFrom("null"), []));
  assert.ok(originAllowed(upgradeFrom("https://evil.example"), ["https://evil.example"]));
  assert.ok(originAllowed(upgradeFrom(null), [], "https:"));
});

Deno.test("allowed origins are read from a comma-separated list, and anything but a bare http(s) origin is refused", () => {
  const invalid = (problem: string) => new Error(problem);
  assert.deepEqual(parseOrigins(" https://a.example/ , http://b.example:8080", invalid), [
    "https://a.example",
    "http://b.example:8080",
  ]);
  assert.throws(() => parseOrigins("https://a.example/path", invalid), /not an origin/);
  assert.throws(() => parseOrigins("ftp://a.example", invalid), /not an origin/);
});
