/**
 * Byte-array helpers shared by the reader and the writer.
 *
 * @module
 */

/**
 * Joins `chunks` into one array. A single chunk is returned as it is, not
 * copied.
 *
 * @example
 * ```ts
 * concat([new Uint8Array([1]), new Uint8Array([2, 3])]); // Uint8Array [1, 2, 3]
 * ```
 */
export function concat(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  let length = 0;
  for (const chunk of chunks) length += chunk.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/**
 * {@linkcode concat} that remembers its last few joins by the identity of
 * their parts: when a thousand connections are written the same arrays in
 * the same order, the bytes are joined once and the result shared. A caller
 * must not change an array of parts once it has been joined.
 */
export class ConcatMemo {
  readonly #size: number;
  #recent: { parts: readonly Uint8Array[]; joined: Uint8Array }[] = [];

  /** Remembers the last `size` joins. */
  constructor(size: number) {
    this.#size = size;
  }

  /** The parts joined, shared with earlier calls that passed the same arrays in the same order. */
  concat(parts: readonly Uint8Array[]): Uint8Array {
    if (parts.length === 1) return parts[0];
    for (const entry of this.#recent) {
      if (sameItems(entry.parts, parts)) return entry.joined;
    }
    const joined = concat(parts);
    this.#recent.unshift({ parts, joined });
    if (this.#recent.length > this.#size) this.#recent.pop();
    return joined;
  }
}

function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
