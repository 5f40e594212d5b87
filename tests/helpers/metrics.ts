/**
 * Reads a running server's Prometheus metrics over its HTTP port, so that a
 * test can check a counter the way a scraper would see it.
 *
 * @module
 */

/**
 * The value of one series on `http://127.0.0.1:<httpPort>/metrics`, e.g.
 * `chat_flooders_disconnected_total` or
 * `chat_messages_rejected_total{reason="rate_limited"}`; 0 when the series is
 * not there.
 */
export async function scrapeMetric(httpPort: number, series: string): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${httpPort}/metrics`);
  const body = await response.text();
  if (!response.ok) throw new Error(`/metrics answered ${response.status}: ${body}`);
  for (const line of body.split("\n")) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return 0;
}
