#include "hybridlens/model/decode_state.hpp"

#include <algorithm>

namespace hl {
namespace {

Tensor clone(Backend& backend, const Tensor& t) {
  if (!t.defined()) return Tensor();
  Tensor c = backend.zeros(t.dtype(), t.shape());
  backend.copy(c, t);
  return c;
}

}  // namespace

DecodeState DecodeState::fork(Backend& backend) const {
  DecodeState s;
  s.position = position;
  s.layers.reserve(layers.size());
  for (const LayerState& l : layers) {
    LayerState c;
    c.conv = clone(backend, l.conv);
    c.rec = clone(backend, l.rec);
    c.kv.k = clone(backend, l.kv.k);
    c.kv.v = clone(backend, l.kv.v);
    c.kv.capacity = l.kv.capacity;
    c.kv.length = l.kv.length;
    s.layers.push_back(std::move(c));
  }
  return s;
}

size_t DecodeState::bytes() const {
  size_t n = 0;
  for (const LayerState& l : layers)
    for (const Tensor* t : {&l.conv, &l.rec, &l.kv.k, &l.kv.v})
      if (t->defined()) n += t->nbytes();
  return n;
}

void reserve_kv(Backend& backend, KVCache& kv, int64_t positions, int64_t row) {
  if (positions <= kv.capacity) return;
  int64_t cap = std::max<int64_t>(kv.capacity, 256);
  while (cap < positions) cap *= 2;
  Tensor k = backend.zeros(DType::F32, {cap, row});
  Tensor v = backend.zeros(DType::F32, {cap, row});
  if (kv.capacity > 0) {
    // Without a window nothing was ever evicted, so slot == position for every stored entry.
    Tensor kd = k.rows(0, kv.capacity), vd = v.rows(0, kv.capacity);
    backend.copy(kd, kv.k.reshape({kv.capacity, row}));
    backend.copy(vd, kv.v.reshape({kv.capacity, row}));
  }
  kv.k = k;
  kv.v = v;
  kv.capacity = cap;
}

}  // namespace hl
