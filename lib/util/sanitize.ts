/**
 * Makes text from the network safe to show on someone else's terminal.
 *
 * Removes raw control characters (C0 except tab, DEL, C1), bidirectional
 * overrides and other invisible formatting characters, and line separators.
 * It keeps the zero-width joiner and non-joiner, which emoji sequences and
 * several scripts need. It does not limit length; the line reader does that.
 *
 * @module
 */

// \p{Cf} is "format": bidi controls, zero-width spaces, BOM, soft hyphen...
// U+200C/U+200D (ZWNJ/ZWJ) are excluded because text needs them. Matching
// control characters is the point of this expression.
// deno-lint-ignore no-control-regex
const UNSAFE = /[\u0000-\u0008\u000A-\u001F\u007F-\u009F\u2028\u2029]|(?![\u200C\u200D])\p{Cf}/gu;

/**
 * Returns `text` without control and invisible formatting characters.
 *
 * @example
 * ```ts
 * sanitize("hi\x1b[2Jthere\u202e"); // "hi[2Jthere"
 * ```
 */
export function sanitize(text: string): string {
  return text.replace(UNSAFE, "");
}
