/**
 * Unguessable random identifiers, from the platform's cryptographic random
 * source (`crypto.getRandomValues`), as URL-safe base64 without padding.
 *
 * It makes identifiers only; what they stand for (a resume token, a history
 * epoch) is decided by their users.
 *
 * @module
 */

/**
 * `bytes` random bytes as unpadded base64url: 16 bytes (128 bits) give 22
 * characters.
 *
 * @example
 * ```ts
 * randomId(16); // e.g. "q3Zr1W0y9nGx0m2cQ5b3Rw"
 * ```
 */
export function randomId(bytes: number): string {
  const raw = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...raw)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}
