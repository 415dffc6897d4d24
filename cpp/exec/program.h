// Native executor: a lowered plan (python/lowp/passes/lower.py) compiled for one input-shape
// signature into a list of ops bound to everything but their data, reading and writing tensors at
// planned offsets of one arena. Program::run executes the whole list in one call.
//
// Slots name the tensors an op reads or writes: program inputs (caller's buffers), constants
// (owned copies), arena tensors (offset planned from lifetimes), program outputs (caller's
// buffers) and aliases (another slot's bytes under a new shape: reshape / flatten, no copy).
// A finalized Program is immutable; run() may be called from many threads at once (each run takes
// an arena from a small thread-safe pool, so steady state allocates no arena).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "lowp/types.h"

namespace lowp {
namespace exec {

constexpr size_t kArenaAlign = 64;

// Arena plan: tensor i (sizes[i] bytes) is alive from op first[i] to op last[i] (inclusive).
// Greedy: largest tensors first, each at the lowest aligned offset free during its lifetime.
// Tensors alive at the same time never overlap; offsets are multiples of `align`.
struct ArenaPlan {
  std::vector<size_t> offsets;
  size_t bytes = 0;
};
ArenaPlan plan_arena(const std::vector<size_t>& sizes, const std::vector<int>& first, const std::vector<int>& last,
                     size_t align = kArenaAlign);

// Thread-safe pool of equal-size, 64-byte aligned buffers. acquire() reuses an idle buffer or
// allocates one; release() keeps up to max_idle buffers for later runs.
class ArenaPool {
 public:
  explicit ArenaPool(size_t bytes, size_t max_idle = 16);
  ~ArenaPool();
  ArenaPool(const ArenaPool&) = delete;
  ArenaPool& operator=(const ArenaPool&) = delete;
  uint8_t* acquire();
  void release(uint8_t* p);
  size_t bytes() const { return bytes_; }
  size_t allocations() const;  // buffers allocated so far (tests: steady state allocates none)
  size_t idle() const;

 private:
  size_t bytes_, max_idle_;
  mutable std::mutex mu_;
  std::vector<uint8_t*> free_;
  size_t allocs_ = 0;
};

// One native op: everything but the data pointers is bound at build time.
class Op {
 public:
  virtual ~Op() = default;
  virtual void run(const void* const* in, void* const* out) const = 0;
  // Threads the op may use (0: the pool's size). A program with an op using more than one wakes
  // the pool's blocked workers when a run starts (ThreadPool::wake).
  virtual int threads() const { return 1; }
};

class Program {
 public:
  Program() = default;
  Program(const Program&) = delete;
  Program& operator=(const Program&) = delete;

  // Building (single-threaded, before finalize). Each returns a slot id.
  int add_input(size_t bytes);                         // the next program input (run()'s inputs[k])
  int add_const(const void* data, size_t bytes);       // copied; 64-byte aligned
  int add_tensor(size_t bytes);                        // an intermediate (arena) tensor
  int add_alias(int slot, size_t bytes);               // same bytes as `slot` (bytes <= its size)
  void add_op(std::unique_ptr<Op> op, std::vector<int> inputs, std::vector<int> outputs, std::string name);
  // Tensors returned by run(): each an add_tensor slot, written by exactly one op; run()'s outputs[k].
  void set_outputs(const std::vector<int>& slots);
  void finalize();  // checks the op list and plans the arena

  // inputs: one pointer per add_input (in order); outputs: one buffer per set_outputs slot.
  // op_ns (optional, num_ops() entries): each op's wall time in nanoseconds is written there.
  void run(const void* const* inputs, void* const* outputs, int64_t* op_ns = nullptr) const;

  size_t num_inputs() const { return n_inputs_; }
  size_t num_outputs() const { return outputs_.size(); }
  size_t num_ops() const { return ops_.size(); }
  const std::string& op_name(size_t i) const { return ops_.at(i).name; }
  size_t slot_bytes(int slot) const { return slots_.at(static_cast<size_t>(slot)).bytes; }
  size_t arena_bytes() const { return arena_bytes_; }
  size_t total_tensor_bytes() const { return total_bytes_; }  // sum of arena tensors without reuse
  size_t arena_allocations() const { return pool_ ? pool_->allocations() : 0; }
  bool finalized() const { return finalized_; }

 private:
  enum class Kind : uint8_t { Input, Const, Arena, Output, Alias };
  struct Slot {
    Kind kind;
    size_t bytes = 0;
    size_t index = 0;   // Input/Output: position; Const: constant number; Arena: offset (after finalize)
    int root = -1;      // Alias: the slot whose bytes it shares
  };
  struct OpEntry {
    std::unique_ptr<Op> op;
    std::vector<int> in, out;
    std::string name;
  };
  int add_slot(Slot s);
  void check_building() const;

  std::vector<Slot> slots_;
  std::vector<OpEntry> ops_;
  std::vector<int> outputs_;
  std::vector<std::shared_ptr<uint8_t>> consts_;
  size_t n_inputs_ = 0, max_in_ = 0, max_out_ = 0;
  size_t arena_bytes_ = 0, total_bytes_ = 0;
  bool finalized_ = false;
  bool parallel_ = false;  // some op uses more than one thread
  std::unique_ptr<ArenaPool> pool_;
};

}  // namespace exec
}  // namespace lowp
