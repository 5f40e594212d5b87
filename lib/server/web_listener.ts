/**
 * The browser's way in: an HTTP listener on the web port serving the chat
 * page (`/`, `/app.js`, `/style.css`, built into `dist/web/` by
 * `deno task bundle`) and, at `/ws`, the WebSocket that carries the JSON
 * protocol into an ordinary chat session.
 *
 * A WebSocket request from another site's page is refused with 403 before
 * it is upgraded (see `origins.ts`). Upgraded sockets are pinged when idle
 * and dropped when they stop answering. Everything after the upgrade (limits,
 * handshake, session) is the chat server's, through `admit`.
 *
 * With a certificate (`TLS_CERT`, `TLS_KEY`) the port speaks HTTPS only, so
 * the page and its socket are `https://` and `wss://`: TLS is taken off in
 * front (`tls_terminator.ts`, which can reload the certificate without
 * dropping open WebSockets) and the HTTP server itself listens on loopback,
 * where it answers only connections relayed from the front.
 *
 * It does not serve health, readiness or metrics: those stay on the
 * operations port, so they are never exposed where the page is.
 *
 * @module
 */

import type { ChatConn } from "./chat_conn.ts";
import type { Logger } from "../ops/log.ts";
import { originAllowed } from "./origins.ts";
import { TlsTerminator } from "./tls_terminator.ts";
import { WebSocketConn } from "./websocket_conn.ts";

/** Options for {@linkcode startWebListener}. */
export interface WebListenerOptions {
  /** Address to bind. */
  hostname: string;
  /** Port to bind; 0 for any free port. */
  port: number;
  /** Origins besides the page's own whose pages may open the WebSocket. */
  allowedOrigins: readonly string[];
  /** The session's line cap, which a frame may not exceed either. */
  maxLineBytes: number;
  /** The certificate to serve HTTPS with; plain HTTP without one. */
  tls?: { certFile: string; keyFile: string } | null;
  /** Runs a session for an upgraded socket (`ChatServer.admit`). */
  admit: (conn: ChatConn) => void;
  logger: Logger;
}

/** A running web listener. */
export interface WebListener {
  /** The port it listens on. */
  readonly port: number;
  /** Whether it serves HTTPS. */
  readonly tls: boolean;
  /**
   * Re-reads the certificate for new connections; open ones stay.
   *
   * @returns false (and logs why) when it could not be used, or when there is no TLS.
   */
  reloadTls(): Promise<boolean>;
  /** Stops accepting; resolves once the listener is closed. Safe to call again. */
  shutdown(): Promise<void>;
}

/** Seconds of silence after which a socket is pinged, and closed if the pong does not come. */
const IDLE_TIMEOUT_S = 30;

/** The page's files: their names under `dist/web/` and their content types. */
const FILES: Readonly<Record<string, { file: string; type: string }>> = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/app.js": { file: "app.js", type: "text/javascript; charset=utf-8" },
  "/style.css": { file: "style.css", type: "text/css; charset=utf-8" },
};

/**
 * Same-origin script, style and WebSocket only: even a text that got into
 * the page as markup could neither run nor load anything.
 */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; " +
    "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; " +
    "frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache",
};

/**
 * The built page. Imported as text, so that `deno compile` embeds it and no
 * read permission is needed; null when `deno task bundle` has not run.
 */
async function loadPage(): Promise<Map<string, string> | null> {
  try {
    const [html, script, style] = await Promise.all([
      import("../../dist/web/index.html", { with: { type: "text" } }),
      import("../../dist/web/app.js", { with: { type: "text" } }),
      import("../../dist/web/style.css", { with: { type: "text" } }),
    ]);
    return new Map([
      ["index.html", html.default],
      ["app.js", script.default],
      ["style.css", style.default],
    ]);
  } catch {
    return null;
  }
}

/**
 * Listens on the web port.
 *
 * @example
 * ```ts
 * const web = await startWebListener({
 *   hostname: "0.0.0.0", port: 8000, allowedOrigins: [], maxLineBytes: 4096,
 *   tls: { certFile: "/etc/chat/tls/tls.crt", keyFile: "/etc/chat/tls/tls.key" },
 *   admit: (conn) => server.admit(conn), logger,
 * });
 * // ... later
 * await web.shutdown();
 * ```
 */
export async function startWebListener(options: WebListenerOptions): Promise<WebListener> {
  const { logger, tls } = options;
  const page = await loadPage();
  if (page === null) {
    logger.warn("the browser page is not built; run `deno task bundle` to serve it");
  }
  let stopping: Promise<void> | null = null;
  const { promise: listening, resolve } = Promise.withResolvers<Deno.NetAddr>();
  // The public port first: the loopback server's free port cannot then be it.
  const terminator = tls
    ? await TlsTerminator.open({
      hostname: options.hostname,
      port: options.port,
      certFile: tls.certFile,
      keyFile: tls.keyFile,
      targetPort: listening.then((addr) => addr.port),
      logger,
    })
    : null;
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = serve();
  } catch (error) {
    await terminator?.close();
    throw error;
  }
  const inner = await listening;
  const port = terminator?.port ?? inner.port;
  logger.info("web listening", { host: options.hostname, port, tls: tls ? true : undefined });
  return {
    port,
    tls: terminator !== null,
    reloadTls: () => terminator?.reload() ?? Promise.resolve(false),
    shutdown() {
      stopping ??= Promise.all([terminator?.close(), server.shutdown()]).then(() => {});
      return stopping;
    },
  };

  function serve(): Deno.HttpServer<Deno.NetAddr> {
    return Deno.serve({
      // Behind TLS only the relay in front may reach it.
      hostname: tls ? "127.0.0.1" : options.hostname,
      port: tls ? 0 : options.port,
      onListen: resolve,
      onError: (error) => {
        logger.error("web request failed", { reason: (error as Error).message });
        return new Response("internal error", { status: 500 });
      },
    }, (request, info) => {
      const remote = tls ? terminator?.peerOf(info.remoteAddr) : info.remoteAddr;
      if (remote === undefined) return new Response("use https", { status: 421 });
      const url = new URL(request.url);
      if (url.pathname === "/ws") {
        if (stopping !== null) return new Response("shutting down", { status: 503 });
        return upgrade(request, remote, options);
      }
      const asset = FILES[url.pathname];
      if (!asset) return new Response("not found", { status: 404 });
      if (request.method !== "GET" && request.method !== "HEAD") {
        return new Response("method not allowed", { status: 405, headers: { allow: "GET, HEAD" } });
      }
      const body = page?.get(asset.file);
      if (body === undefined) {
        return new Response("the page is not built; run `deno task bundle`", { status: 503 });
      }
      return new Response(request.method === "HEAD" ? null : body, {
        headers: { ...SECURITY_HEADERS, "content-type": asset.type },
      });
    });
  }
}

function upgrade(request: Request, remote: Deno.NetAddr, options: WebListenerOptions): Response {
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return new Response("expected a WebSocket upgrade", { status: 426 });
  }
  if (!originAllowed(request, options.allowedOrigins, options.tls ? "https:" : undefined)) {
    options.logger.warn("web socket refused", {
      remote: remote.hostname,
      origin: request.headers.get("origin") ?? undefined,
      reason: "origin",
    });
    return new Response("this page's origin may not connect", { status: 403 });
  }
  const { socket, response } = Deno.upgradeWebSocket(request, { idleTimeout: IDLE_TIMEOUT_S });
  options.admit(new WebSocketConn(socket, remote, { maxLineBytes: options.maxLineBytes }));
  return response;
}
