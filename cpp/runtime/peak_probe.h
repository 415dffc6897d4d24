// Peak-throughput probes for the benchmarks: tight loops of independent integer multiply-accumulate
// chains that measure what this CPU (as seen by this process, e.g. under a hypervisor) can
// actually retire. Used by `lowp bench gemm` to report "% of measured int8 peak".
//
// Ops are counted as 2 per multiply-accumulate (GOP/s comparable with 2*M*N*K/t).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace lowp {
namespace bench {

// One block of the ISA's probe loop, `iters` times; returns the number of ops executed.
// Defined in peak_probe_<isa>.cc (built only on x86); callers must check the CPU first.
uint64_t peak_loop_avx512vnni(uint64_t iters);  // 12 chains of vpdpbusd zmm  (64 MACs each)
uint64_t peak_loop_avx2(uint64_t iters);        // 6 chains of vpmaddwd+vpaddd ymm (16 MACs each)
// AMX-INT8 (peak_probe_amx.cc, inline asm, x86-64 Linux only; elsewhere these are stubs).
uint64_t peak_loop_amx(uint64_t iters);         // 4 tile accumulators of tdpbusd (16384 MACs each)
bool peak_amx_supported();                      // CPUID + XCR0 tile state + arch_prctl permission

// ISAs this build and CPU can probe, from "amx", "avx512vnni", "avx2".
std::vector<std::string> peak_probe_isas();

// Runs the probe on `threads` threads at once for about `seconds` and returns the summed
// rate in GOP/s (each thread reports its fastest ~5 ms chunk: noise only slows chunks down). Throws lowp::Error for an unknown ISA, one the CPU lacks, or bad arguments.
double peak_probe(const std::string& isa, double seconds, int threads);

}  // namespace bench
}  // namespace lowp
