/**
 * Which web pages may open the chat's WebSocket: the page's own origin, and
 * the origins listed in `ALLOWED_ORIGINS`. A browser always sends `Origin`
 * with a WebSocket handshake, so checking it keeps other sites' pages from
 * chatting in their visitors' names (cross-site WebSocket hijacking).
 *
 * A request without `Origin` does not come from a web page (a program, a
 * test) and is allowed; the chat's TCP port is open to programs anyway. This
 * module only decides; it sends no response.
 *
 * @module
 */

/**
 * Parses a comma-separated list of origins (`https://chat.example.com`),
 * each returned in its normal form.
 *
 * @param invalid Makes the error thrown for an item that is not a bare
 *   http(s) origin, from a sentence naming it.
 */
export function parseOrigins(list: string, invalid: (problem: string) => Error): string[] {
  return list.split(",").map((item) => item.trim()).filter((item) => item !== "").map((item) => {
    let url: URL | null = null;
    try {
      url = new URL(item);
    } catch {
      // Not a URL at all: reported below like any other bad item.
    }
    if (!url || !/^https?:$/.test(url.protocol) || url.origin !== item.replace(/\/$/, "")) {
      throw invalid(`"${item}" is not an origin such as https://chat.example.com:8443`);
    }
    return url.origin;
  });
}

/**
 * Whether `request` may be upgraded: no `Origin`, an `Origin` naming the
 * host the request was sent to (the page's own), or one of `allowed`.
 *
 * @param scheme The page's own scheme, `"https:"` when this server serves
 *   TLS itself. Without it the own origin may be http or https, since a
 *   proxy in front may terminate TLS.
 */
export function originAllowed(
  request: Request,
  allowed: readonly string[],
  scheme?: "http:" | "https:",
): boolean {
  const origin = request.headers.get("origin");
  if (origin === null) return true;
  if (allowed.includes(origin)) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  const host = request.headers.get("host");
  const schemeFits = scheme === undefined
    ? url.protocol === "http:" || url.protocol === "https:"
    : url.protocol === scheme;
  return schemeFits && host !== null && url.host === host.toLowerCase();
}
