#pragma once
// Checks every architecture's reference test runs against a fixture (tests/fixtures, made by
// tools/make_fixtures.py), as gtest expectations.
#include "support/fixtures.hpp"

namespace hl::test {

// "Within 1e-4 of the reference scale": max |ours - ref| <= 1e-4 * max |ref| for every case's logits
// over all positions, and the parameter count equals cases.json's param_count. Prints and records the error of each case (property <fixture>_<case>_rel_error).
void expect_logits_match(const Fixture& f, double rel_tol = 1e-4);

// Per-head attention entropies recorded by the lens during the prefill match entropy_{i}.npy
// ([attention layers, heads, T], nats) within abs_tol.
void expect_entropy_match(const Fixture& f, double abs_tol = 1e-4);

// Cached greedy decoding from each case's prompt gives the reference continuation exactly.
void expect_greedy_match(const Fixture& f);

// With a tokenizer.model: BOS as config.json says and each case's text encodes to its ids. With only a
// tokenizer.json: loading fails with a message naming tokenizer.model.
void expect_tokenizer_match(const Fixture& f);

}  // namespace hl::test
