/**
 * Makes text from the network safe to show on someone else's terminal, and
 * checks user names.
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

/** Longest user name, in characters. */
export const MAX_NAME_LENGTH = 32;

// Marks (\p{M}) are needed by Devanagari, Thai and decomposed accents, but
// may not come first: a name must start with something visible on its own.
const NAME = /^[\p{L}\p{N}_.-][\p{L}\p{M}\p{N}_.-]*$/u;

/**
 * Checks a user name and returns why it is refused, or `null` when it is fine.
 *
 * A name is 1 to {@linkcode MAX_NAME_LENGTH} letters, digits, `_`, `.` or
 * `-`. That also keeps out `{`, which starts the JSON hello.
 */
export function nameProblem(name: string): string | null {
  if (name.length === 0) return "a name is required";
  if ([...name].length > MAX_NAME_LENGTH) {
    return `a name is at most ${MAX_NAME_LENGTH} characters`;
  }
  if (!NAME.test(name)) {
    return "a name may only hold letters, digits, '_', '.' and '-'";
  }
  return null;
}
