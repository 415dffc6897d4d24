// Native executor: arena planner, arena pool, Program (see program.h).
#include "exec/program.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <new>
#include <numeric>

#include "runtime/thread_pool.h"

namespace lowp {
namespace exec {

namespace {

size_t align_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

uint8_t* aligned_alloc_bytes(size_t bytes) {
  return static_cast<uint8_t*>(::operator new(std::max<size_t>(bytes, 1), std::align_val_t(kArenaAlign)));
}
void aligned_free(uint8_t* p) { ::operator delete(p, std::align_val_t(kArenaAlign)); }

}  // namespace

// ------------------------------------------------------------------------------------ planner
ArenaPlan plan_arena(const std::vector<size_t>& sizes, const std::vector<int>& first, const std::vector<int>& last,
                     size_t align) {
  const size_t n = sizes.size();
  LOWP_CHECK(first.size() == n && last.size() == n, "plan_arena: sizes, first and last differ in length");
  LOWP_CHECK(align >= 1, "plan_arena: alignment must be >= 1");
  for (size_t i = 0; i < n; ++i) LOWP_CHECK(first[i] <= last[i], "plan_arena: a lifetime ends before it starts");
  ArenaPlan plan;
  plan.offsets.assign(n, 0);
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const size_t sa = align_up(sizes[a], align), sb = align_up(sizes[b], align);
    return sa != sb ? sa > sb : first[a] < first[b];
  });
  std::vector<size_t> placed;
  std::vector<std::pair<size_t, size_t>> busy;
  for (size_t t : order) {
    const size_t size = align_up(sizes[t], align);
    busy.clear();
    for (size_t m : placed)
      if (first[m] <= last[t] && first[t] <= last[m])
        busy.emplace_back(plan.offsets[m], plan.offsets[m] + align_up(sizes[m], align));
    std::sort(busy.begin(), busy.end());
    size_t off = 0;
    for (const auto& b : busy) {
      if (off + size <= b.first) break;
      off = std::max(off, b.second);
    }
    plan.offsets[t] = off;
    placed.push_back(t);
    plan.bytes = std::max(plan.bytes, off + size);
  }
  return plan;
}

// ------------------------------------------------------------------------------------ pool
ArenaPool::ArenaPool(size_t bytes, size_t max_idle) : bytes_(bytes), max_idle_(max_idle) {}

ArenaPool::~ArenaPool() {
  for (uint8_t* p : free_) aligned_free(p);
}

uint8_t* ArenaPool::acquire() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (!free_.empty()) {
      uint8_t* p = free_.back();
      free_.pop_back();
      return p;
    }
    ++allocs_;
  }
  return aligned_alloc_bytes(bytes_);
}

void ArenaPool::release(uint8_t* p) {
  if (!p) return;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (free_.size() < max_idle_) {
      free_.push_back(p);
      return;
    }
  }
  aligned_free(p);
}

size_t ArenaPool::allocations() const {
  std::lock_guard<std::mutex> lk(mu_);
  return allocs_;
}

size_t ArenaPool::idle() const {
  std::lock_guard<std::mutex> lk(mu_);
  return free_.size();
}

// ------------------------------------------------------------------------------------ program
void Program::check_building() const { LOWP_CHECK(!finalized_, "program is already finalized"); }

int Program::add_slot(Slot s) {
  check_building();
  slots_.push_back(s);
  return static_cast<int>(slots_.size() - 1);
}

int Program::add_input(size_t bytes) {
  Slot s{Kind::Input, bytes, n_inputs_, -1};
  const int id = add_slot(s);
  ++n_inputs_;
  return id;
}

int Program::add_const(const void* data, size_t bytes) {
  check_building();
  std::shared_ptr<uint8_t> buf(aligned_alloc_bytes(bytes), aligned_free);
  if (bytes) std::memcpy(buf.get(), data, bytes);
  consts_.push_back(buf);
  return add_slot(Slot{Kind::Const, bytes, consts_.size() - 1, -1});
}

int Program::add_tensor(size_t bytes) { return add_slot(Slot{Kind::Arena, bytes, 0, -1}); }

int Program::add_alias(int slot, size_t bytes) {
  LOWP_CHECK(slot >= 0 && static_cast<size_t>(slot) < slots_.size(), "alias of an unknown slot");
  int root = slot;
  while (slots_[static_cast<size_t>(root)].kind == Kind::Alias) root = slots_[static_cast<size_t>(root)].root;
  LOWP_CHECK(bytes <= slots_[static_cast<size_t>(root)].bytes, "alias is larger than the tensor it views");
  return add_slot(Slot{Kind::Alias, bytes, 0, root});
}

void Program::add_op(std::unique_ptr<Op> op, std::vector<int> inputs, std::vector<int> outputs, std::string name) {
  check_building();
  LOWP_CHECK(op != nullptr, "null op");
  for (int s : inputs) LOWP_CHECK(s >= 0 && static_cast<size_t>(s) < slots_.size(), "op reads an unknown slot");
  for (int s : outputs) {
    LOWP_CHECK(s >= 0 && static_cast<size_t>(s) < slots_.size(), "op writes an unknown slot");
    LOWP_CHECK(slots_[static_cast<size_t>(s)].kind == Kind::Arena, "ops may only write intermediate tensors");
  }
  max_in_ = std::max(max_in_, inputs.size());
  max_out_ = std::max(max_out_, outputs.size());
  ops_.push_back(OpEntry{std::move(op), std::move(inputs), std::move(outputs), std::move(name)});
}

void Program::set_outputs(const std::vector<int>& slots) {
  check_building();
  outputs_ = slots;
}

void Program::finalize() {
  check_building();
  const size_t ns = slots_.size();
  // Every tensor is written by exactly one op and read only after it.
  std::vector<int> writer(ns, -1), first(ns, -1), last(ns, -1);
  for (size_t k = 0; k < ops_.size(); ++k) {
    const int ki = static_cast<int>(k);
    for (int s : ops_[k].in) {
      const Slot& sl = slots_[static_cast<size_t>(s)];
      const int r = sl.kind == Kind::Alias ? sl.root : s;
      if (slots_[static_cast<size_t>(r)].kind == Kind::Arena)
        LOWP_CHECK(writer[static_cast<size_t>(r)] >= 0, "op '" + ops_[k].name + "' reads a tensor before it is written");
      last[static_cast<size_t>(r)] = ki;
    }
    for (int s : ops_[k].out) {
      LOWP_CHECK(writer[static_cast<size_t>(s)] < 0, "tensor written by two ops");
      writer[static_cast<size_t>(s)] = ki;
      first[static_cast<size_t>(s)] = ki;
      last[static_cast<size_t>(s)] = std::max(last[static_cast<size_t>(s)], ki);
    }
  }
  for (size_t j = 0; j < outputs_.size(); ++j) {
    const int s = outputs_[j];
    LOWP_CHECK(s >= 0 && static_cast<size_t>(s) < ns, "unknown output slot");
    Slot& sl = slots_[static_cast<size_t>(s)];
    LOWP_CHECK(sl.kind == Kind::Arena && writer[static_cast<size_t>(s)] >= 0,
               "program outputs must be tensors written by an op (not inputs, constants or aliases)");
    sl.kind = Kind::Output;
    sl.index = j;
  }
  // Arena tensors: plan offsets from lifetimes.
  std::vector<size_t> ids, sizes;
  std::vector<int> f, l;
  for (size_t s = 0; s < ns; ++s) {
    if (slots_[s].kind != Kind::Arena) continue;
    LOWP_CHECK(writer[s] >= 0, "an intermediate tensor is never written");
    ids.push_back(s);
    sizes.push_back(slots_[s].bytes);
    f.push_back(first[s]);
    l.push_back(last[s]);
    total_bytes_ += align_up(slots_[s].bytes, kArenaAlign);
  }
  const ArenaPlan plan = plan_arena(sizes, f, l);
  for (size_t i = 0; i < ids.size(); ++i) slots_[ids[i]].index = plan.offsets[i];
  arena_bytes_ = plan.bytes;
  // Idle arenas kept for later runs: up to 16 (concurrent callers), within ~256 MiB in total.
  const size_t budget = size_t{256} << 20;
  const size_t keep = arena_bytes_ ? std::max<size_t>(1, std::min<size_t>(16, budget / arena_bytes_)) : 1;
  pool_.reset(new ArenaPool(arena_bytes_, keep));
  for (const OpEntry& e : ops_) parallel_ = parallel_ || e.op->threads() != 1;
  finalized_ = true;
}

namespace {
struct ArenaLease {
  ArenaPool* pool;
  uint8_t* p;
  ~ArenaLease() { pool->release(p); }
};
}  // namespace

void Program::run(const void* const* inputs, void* const* outputs, int64_t* op_ns) const {
  LOWP_CHECK(finalized_, "program is not finalized");
  // Workers blocked since the last run start waking now, while the arena and the first ops
  // are set up, instead of when the first parallel op needs them.
  if (parallel_) ThreadPool::global().wake();
  ArenaLease arena{pool_.get(), arena_bytes_ ? pool_->acquire() : nullptr};
  const size_t ns = slots_.size();
  // Slot pointers for this run (small; the arena itself comes from the pool).
  std::vector<void*> ptr(ns + max_in_ + max_out_);
  for (size_t s = 0; s < ns; ++s) {
    const Slot& sl = slots_[s];
    switch (sl.kind) {
      case Kind::Input: ptr[s] = const_cast<void*>(inputs[sl.index]); break;
      case Kind::Const: ptr[s] = consts_[sl.index].get(); break;
      case Kind::Arena: ptr[s] = arena.p + sl.index; break;
      case Kind::Output: ptr[s] = outputs[sl.index]; break;
      case Kind::Alias: ptr[s] = ptr[static_cast<size_t>(sl.root)]; break;
    }
  }
  void** in = ptr.data() + ns;
  void** out = in + max_in_;
  for (size_t k = 0; k < ops_.size(); ++k) {
    const OpEntry& e = ops_[k];
    for (size_t i = 0; i < e.in.size(); ++i) in[i] = ptr[static_cast<size_t>(e.in[i])];
    for (size_t i = 0; i < e.out.size(); ++i) out[i] = ptr[static_cast<size_t>(e.out[i])];
    if (op_ns) {
      const auto t0 = std::chrono::steady_clock::now();
      e.op->run(in, out);
      op_ns[k] = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
    } else {
      e.op->run(in, out);
    }
  }
}

}  // namespace exec
}  // namespace lowp
