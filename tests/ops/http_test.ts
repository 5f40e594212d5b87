/**
 * The operations HTTP port, served for real on a loopback port and asked with
 * fetch: routes, status codes, content types, readiness changes, and the
 * health check used by the container.
 */

import assert from "node:assert/strict";
import { healthcheck, HTTP_PATHS, type Readiness, startHttp } from "../../lib/ops/http.ts";
import { createLogger } from "../../lib/ops/log.ts";
import { ServerMetrics } from "../../lib/ops/chat_metrics.ts";

interface Fixture {
  base: string;
  port: number;
  metrics: ServerMetrics;
  setReady(readiness: Readiness): void;
  logLines: string[];
  [Symbol.asyncDispose](): Promise<void>;
}

async function serve(): Promise<Fixture> {
  const metrics = new ServerMetrics({ connectedClients: () => 3 });
  let readiness: Readiness = { ready: true };
  const logLines: string[] = [];
  const server = await startHttp({
    hostname: "127.0.0.1",
    port: 0,
    metrics,
    ready: () => readiness,
    logger: createLogger("info", { write: (line) => logLines.push(line) }),
  });
  return {
    base: `http://127.0.0.1:${server.port}`,
    port: server.port,
    metrics,
    setReady: (next) => readiness = next,
    logLines,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** Fetches and always consumes the body, so no response is left open. */
async function get(url: string, init?: RequestInit) {
  const response = await fetch(url, init);
  const body = await response.text();
  return { status: response.status, headers: response.headers, body };
}

Deno.test("/healthz answers 200 ok as plain text", async () => {
  await using http = await serve();
  const response = await get(`${http.base}/healthz`);
  assert.equal(response.status, 200);
  assert.equal(response.body, "ok\n");
  assert.equal(response.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.equal(response.headers.get("cache-control"), "no-store");
});

Deno.test("/readyz is 200 while ready and 503 with the reason while not, following the callback", async () => {
  await using http = await serve();
  let response = await get(`${http.base}/readyz`);
  assert.equal(response.status, 200);
  assert.equal(response.body, "ready\n");

  http.setReady({ ready: false, reason: "store disconnected" });
  response = await get(`${http.base}/readyz`);
  assert.equal(response.status, 503);
  assert.equal(response.body, "not ready: store disconnected\n");

  http.setReady({ ready: true });
  assert.equal((await get(`${http.base}/readyz`)).status, 200);

  http.setReady({ ready: false, reason: "shutting down" });
  response = await get(`${http.base}/readyz`);
  assert.equal(response.status, 503);
  assert.equal(response.body, "not ready: shutting down\n");

  http.setReady({ ready: false });
  assert.equal((await get(`${http.base}/readyz`)).body, "not ready: unknown\n");
});

Deno.test("/metrics serves the registry live in the Prometheus text format", async () => {
  await using http = await serve();
  let response = await get(`${http.base}/metrics`);
  assert.equal(response.status, 200);
  assert.equal(
    response.headers.get("content-type"),
    "text/plain; version=0.0.4; charset=utf-8",
  );
  assert.equal(response.body, http.metrics.render());
  assert.match(response.body, /^chat_connected_clients 3$/m);
  assert.match(response.body, /^chat_connections_accepted_total 0$/m);

  http.metrics.connectionsAccepted.inc();
  response = await get(`${http.base}/metrics`);
  assert.match(response.body, /^chat_connections_accepted_total 1$/m);
});

Deno.test("HEAD gets the GET status and headers with no body", async () => {
  await using http = await serve();
  for (const path of HTTP_PATHS) {
    const full = await get(`${http.base}${path}`);
    const head = await get(`${http.base}${path}`, { method: "HEAD" });
    assert.equal(head.status, full.status, path);
    assert.equal(head.body, "", path);
    assert.equal(head.headers.get("content-type"), full.headers.get("content-type"), path);
  }
  const head = await get(`${http.base}/healthz`, { method: "HEAD" });
  assert.equal(head.headers.get("content-length"), "3");
});

Deno.test("an unknown path is 404, whatever the method", async () => {
  await using http = await serve();
  for (const path of ["/", "/health", "/metrics/", "/readyz/x", "/favicon.ico"]) {
    const response = await get(`${http.base}${path}`);
    assert.equal(response.status, 404, path);
    assert.equal(response.body, "not found\n");
  }
  assert.equal((await get(`${http.base}/nope`, { method: "POST", body: "x" })).status, 404);
});

Deno.test("a method other than GET or HEAD is 405 with an Allow header, and the body is not needed", async () => {
  await using http = await serve();
  for (const method of ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"]) {
    const response = await get(`${http.base}/healthz`, {
      method,
      body: method === "POST" || method === "PUT" ? "ignored" : undefined,
    });
    assert.equal(response.status, 405, method);
    assert.equal(response.headers.get("allow"), "GET, HEAD", method);
  }
});

Deno.test("requests are not logged at info level", async () => {
  await using http = await serve();
  await get(`${http.base}/healthz`);
  await get(`${http.base}/metrics`);
  await get(`${http.base}/missing`);
  assert.equal(http.logLines.length, 1, http.logLines.join("\n"));
  assert.match(http.logLines[0], /INFO {2}http listening hostname=127\.0\.0\.1 port=\d+$/);
});

Deno.test("a metrics render that throws is a 500 with a logged error, and the server keeps serving", async () => {
  const logLines: string[] = [];
  const server = await startHttp({
    hostname: "127.0.0.1",
    port: 0,
    metrics: {
      render() {
        throw new Error("broken gauge");
      },
    },
    ready: () => ({ ready: true }),
    logger: createLogger("info", { write: (line) => logLines.push(line) }),
  });
  try {
    const response = await get(`http://127.0.0.1:${server.port}/metrics`);
    assert.equal(response.status, 500);
    assert.ok(
      logLines.some((line) => line.includes('ERROR cannot render metrics error="broken gauge"')),
    );
    assert.equal((await get(`http://127.0.0.1:${server.port}/healthz`)).status, 200);
  } finally {
    await server.shutdown();
  }
});

Deno.test("shutdown closes the port, and calling it twice is harmless", async () => {
  const http = await serve();
  assert.ok(await healthcheck(http.port));
  await http[Symbol.asyncDispose]();
  await http[Symbol.asyncDispose]();
  assert.equal(await healthcheck(http.port), false);
});

Deno.test("aborting the signal stops the server", async () => {
  const controller = new AbortController();
  const server = await startHttp({
    hostname: "127.0.0.1",
    port: 0,
    metrics: new ServerMetrics(),
    ready: () => ({ ready: true }),
    logger: createLogger("error", () => {}),
    signal: controller.signal,
  });
  assert.ok(await healthcheck(server.port));
  controller.abort();
  await server.shutdown();
  assert.equal(await healthcheck(server.port), false);
});

Deno.test("a port already in use makes startHttp reject", async () => {
  await using http = await serve();
  await assert.rejects(
    startHttp({
      hostname: "127.0.0.1",
      port: http.port,
      metrics: http.metrics,
      ready: () => ({ ready: true }),
      logger: createLogger("error", () => {}),
    }),
    Deno.errors.AddrInUse,
  );
});

Deno.test("healthcheck is true against a live server, even when it is not ready", async () => {
  await using http = await serve();
  http.setReady({ ready: false, reason: "store disconnected" });
  assert.equal(await healthcheck(http.port), true);
  assert.equal(await healthcheck(http.port, "127.0.0.1", 500), true);
});

Deno.test("healthcheck is false against a closed port", async () => {
  // Bind, learn a free port, release it: nothing listens there afterwards.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  assert.equal(await healthcheck(port), false);
});

Deno.test("healthcheck is false when something answers that is not the health endpoint", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response("nope", { status: 500 }),
  );
  try {
    assert.equal(await healthcheck(server.addr.port), false);
  } finally {
    await server.shutdown();
  }
});

Deno.test("healthcheck gives up after its timeout when the peer never answers", async () => {
  // Accepts the connection and then says nothing.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const started = performance.now();
  assert.equal(await healthcheck(listener.addr.port, "127.0.0.1", 200), false);
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 150 && elapsed < 2000, `gave up after ${elapsed} ms`);
  (await accepted).close();
  listener.close();
});
