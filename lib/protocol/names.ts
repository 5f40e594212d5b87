/**
 * The rule for user names, which the server applies at the handshake and the
 * client before it connects, so that a bad name is refused with the same
 * reason on both sides. It checks; it neither sanitises nor folds case (see
 * `../util/sanitize.ts` and `../store/presence.ts`).
 *
 * @module
 */

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
