/**
 * What every presence shares: the key a name is unique under, and the order
 * names are listed in.
 */

import assert from "node:assert/strict";
import { foldName, sortNames } from "../../lib/store/presence.ts";

Deno.test("names that differ only in case, width or compatibility form fold to one key", () => {
  for (const variant of ["alice", "ALICE", "Alice", "ａｌｉｃｅ", "ＡＬＩＣＥ"]) {
    assert.equal(foldName(variant), "alice", variant);
  }
  assert.equal(foldName("Straße"), foldName("STRASSE"));
  assert.equal(foldName("ﬁle"), foldName("FILE"));
});

Deno.test("look-alike letters from different scripts stay different names", () => {
  assert.notEqual(foldName("alice"), foldName("\u0430lice"));
});

Deno.test("display names are listed in the code-unit order of their folded keys, not as typed", () => {
  const entries = ["carol", "Bob", "alice", "_zed", "Ça"].map((name) => ({
    key: foldName(name),
    name,
  }));
  assert.deepEqual(sortNames(entries), ["_zed", "alice", "Bob", "carol", "Ça"]);
});
