/**
 * `promtool check metrics` (Debian package `prometheus`) as an independent
 * judge of the `/metrics` text format.
 *
 * @module
 */

import assert from "node:assert/strict";

/** Fails unless promtool accepts `text` as Prometheus metrics. */
export async function assertPromtoolAccepts(text: string): Promise<void> {
  const promtool = new Deno.Command("promtool", {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = promtool.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const { code, stdout, stderr } = await promtool.output();
  const said = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  assert.equal(code, 0, `promtool check metrics failed:\n${said}`);
}
