/**
 * The chat page in a real headless Chromium (`/usr/bin/chromium`, driven by
 * npm `playwright-core`), used the way a person does: type a name (and a
 * password), press Enter, type messages, read what the page shows.
 *
 * `bundlePage` builds the page (`deno task bundle`) for the server process
 * to serve; call it once at the top of a test file.
 *
 * @module
 */

import { type Browser, chromium, type Page } from "playwright-core";
import { poll } from "./poll.ts";
import { baseEnv, type ServerProcess } from "./server.ts";

const ROOT = new URL("../../", import.meta.url);
const CHROMIUM = "/usr/bin/chromium";

/** Builds the page into `dist/web/`; throws with the bundler's output when it fails. */
export async function bundlePage(): Promise<void> {
  const bundled = await new Deno.Command("deno", {
    args: ["task", "bundle"],
    cwd: ROOT,
    clearEnv: true,
    env: baseEnv(),
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!bundled.success) throw new Error(new TextDecoder().decode(bundled.stderr));
}

/** Runs `run` with a fresh Chromium, closed afterwards; `args` are extra command-line flags. */
export async function withBrowser(
  run: (browser: Browser) => Promise<void>,
  args: string[] = [],
): Promise<void> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", ...args],
  });
  try {
    await run(browser);
  } finally {
    await browser.close();
  }
}

/** The web port the server logged. */
export async function webPort(server: ServerProcess): Promise<number> {
  return await poll("the web port in the log", () => {
    const match = server.logs.match(/web listening.*?\bport"?[=:](\d+)/);
    return match ? Number(match[1]) : undefined;
  });
}

/** Opens the page at `url`, of `width` pixels; resolves once the join form is there. */
export async function open(browser: Browser, url: string, width = 1000): Promise<Page> {
  const page = await browser.newPage({ viewport: { width, height: 700 } });
  await page.goto(url);
  await page.locator("#name").waitFor();
  return page;
}

/** Fills the join form (the password only when given) and presses Enter. */
export async function submitJoin(page: Page, user: string, password?: string): Promise<void> {
  await page.locator("#name").fill(user);
  if (password !== undefined) await page.locator("#password").fill(password);
  await page.locator("#name").focus();
  await page.keyboard.press("Enter");
}

/** Opens the page and joins as `user`; resolves once it shows the room online. */
export async function join(
  browser: Browser,
  url: string,
  user: string,
  width = 1000,
): Promise<Page> {
  const page = await open(browser, url, width);
  await submitJoin(page, user);
  await online(page);
  return page;
}

/** Resolves once the page shows its connection online. */
export async function online(page: Page): Promise<void> {
  await page.locator('#state[data-state="online"]').waitFor({ timeout: 15_000 });
}

/** Types `text` into the message field and presses Enter, as a person would. */
export async function say(page: Page, text: string): Promise<void> {
  await page.locator("#text").fill(text);
  await page.keyboard.press("Enter");
}

/** The texts of the messages shown, in order. */
export function messages(page: Page): Promise<string[]> {
  return page.locator("#log li.message .text").allTextContents();
}

/** Resolves once a message with `text` is shown. */
export async function shows(page: Page, text: string): Promise<void> {
  await page.locator("#log li.message .text", { hasText: text }).first().waitFor({
    timeout: 10_000,
  });
}
