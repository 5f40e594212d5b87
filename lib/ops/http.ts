/**
 * The operations HTTP port: liveness, readiness and Prometheus metrics, for
 * Kubernetes probes, container health checks and scrapers.
 *
 * | path       | answer                                                                |
 * | ---------- | --------------------------------------------------------------------- |
 * | `/healthz` | `200 ok`: the process is alive and its event loop turns               |
 * | `/readyz`  | `200 ready`, or `503 not ready: <reason>` (store down, shutting down) |
 * | `/metrics` | `200`, the Prometheus text format (version 0.0.4)                     |
 *
 * `GET` and `HEAD` only (anything else is `405` with `Allow`); other paths
 * are `404`. Request bodies are never read, and requests are logged at debug
 * level only, so probes do not flood the log.
 *
 * It does not serve chat, TLS or authentication: the port is meant for the
 * cluster's probes and scrapers, not for the internet.
 *
 * @module
 */

import type { Logger } from "./log.ts";
import { PROMETHEUS_CONTENT_TYPE } from "./registry.ts";

/** Every path the HTTP port serves, for probes and manifests to be checked against. */
export const HTTP_PATHS = ["/healthz", "/readyz", "/metrics"] as const;

/** One of {@linkcode HTTP_PATHS}. */
export type HttpPath = typeof HTTP_PATHS[number];

/** What `/readyz` reports. */
export interface Readiness {
  ready: boolean;
  /** Why not, e.g. `store disconnected` or `shutting down`; shown after `not ready: `. */
  reason?: string;
}

/** Options of {@linkcode startHttp} and {@linkcode createHttpHandler}. */
export interface HttpOptions {
  /** Address to bind, e.g. `0.0.0.0`. */
  hostname: string;
  /** Port to bind; 0 picks a free one (see {@linkcode HttpServer.port}). */
  port: number;
  /** Rendered on every `/metrics` request. */
  metrics: { render(): string };
  /** Asked on every `/readyz` request; must be cheap and must not throw. */
  ready: () => Readiness;
  logger: Logger;
  /** Aborting it stops the server, like {@linkcode HttpServer.shutdown}. */
  signal?: AbortSignal;
}

/** A running HTTP port. */
export interface HttpServer {
  /** The port actually bound (useful when 0 was asked for). */
  readonly port: number;
  /** Stops accepting, lets requests in flight finish, and closes. Safe to call twice. */
  shutdown(): Promise<void>;
}

const TEXT = "text/plain; charset=utf-8";
const ALLOW = "GET, HEAD";
const encoder = new TextEncoder();

function reply(
  request: Request,
  status: number,
  body: string,
  contentType = TEXT,
  extra: Record<string, string> = {},
): Response {
  const bytes = encoder.encode(body);
  return new Response(request.method === "HEAD" ? null : bytes, {
    status,
    headers: {
      "content-type": contentType,
      // Stated for HEAD too, where there is no body to measure.
      "content-length": String(bytes.byteLength),
      // Probes and scrapes must see the present, never a cached answer.
      "cache-control": "no-store",
      ...extra,
    },
  });
}

/**
 * Returns the request handler {@linkcode startHttp} serves, for use with
 * another server or in a test without a socket.
 *
 * @example
 * ```ts
 * const handle = createHttpHandler({ metrics, ready: () => ({ ready: true }), logger });
 * const response = handle(new Request("http://localhost/readyz"));
 * response.status; // 200
 * ```
 */
export function createHttpHandler(
  options: Pick<HttpOptions, "metrics" | "ready" | "logger">,
): (request: Request) => Response {
  const { metrics, ready, logger } = options;
  return (request) => {
    const path = new URL(request.url).pathname;
    const response = route(request, path);
    logger.debug("http request", { method: request.method, path, status: response.status });
    return response;
  };

  function route(request: Request, path: string): Response {
    if (!(HTTP_PATHS as readonly string[]).includes(path)) {
      return reply(request, 404, "not found\n");
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      return reply(request, 405, "method not allowed\n", TEXT, { allow: ALLOW });
    }
    switch (path as HttpPath) {
      case "/healthz":
        return reply(request, 200, "ok\n");
      case "/readyz": {
        const status = ready();
        return status.ready
          ? reply(request, 200, "ready\n")
          : reply(request, 503, `not ready: ${status.reason ?? "unknown"}\n`);
      }
      case "/metrics":
        try {
          return reply(request, 200, metrics.render(), PROMETHEUS_CONTENT_TYPE);
        } catch (error) {
          logger.error("cannot render metrics", { error: (error as Error).message });
          return reply(request, 500, "cannot render metrics\n");
        }
    }
  }
}

/**
 * Serves {@linkcode HTTP_PATHS} with `Deno.serve`. Resolves once the port is
 * bound; rejects when it cannot be (for example `Deno.errors.AddrInUse`).
 *
 * @example
 * ```ts
 * const http = await startHttp({
 *   hostname: "0.0.0.0",
 *   port: 8080,
 *   metrics,
 *   ready: () => stopping ? { ready: false, reason: "shutting down" } : { ready: true },
 *   logger,
 * });
 * // ...
 * await http.shutdown();
 * ```
 */
export function startHttp(options: HttpOptions): Promise<HttpServer> {
  const handler = createHttpHandler(options);
  const { logger } = options;
  try {
    const server = Deno.serve({
      hostname: options.hostname,
      port: options.port,
      signal: options.signal,
      // Given, so that Deno prints no "Listening on" banner of its own.
      onListen: () => {},
      onError: (error) => {
        logger.error("http handler failed", { error: (error as Error).message });
        return new Response("internal error\n", { status: 500, headers: { "content-type": TEXT } });
      },
    }, handler);
    const port = server.addr.port;
    logger.info("http listening", { hostname: options.hostname, port });
    return Promise.resolve({ port, shutdown: () => server.shutdown() });
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Asks a running server's `/healthz` whether it is alive: true on `200`,
 * false on any other status, a refused connection or no answer within
 * `timeoutMs`. For the `healthcheck` subcommand, since the container image
 * has no shell and no curl.
 *
 * @example
 * ```ts
 * Deno.exit(await healthcheck(8080) ? 0 : 1);
 * ```
 */
export async function healthcheck(
  port: number,
  hostname = "127.0.0.1",
  timeoutMs = 2000,
): Promise<boolean> {
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  try {
    const response = await fetch(`http://${host}:${port}/healthz`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    // The body is not needed, but must be consumed so the connection is released.
    await response.body?.cancel();
    return response.status === 200;
  } catch {
    return false;
  }
}
