"""The `lowp` command line: kernels, bench, demo (more subcommands come with the graph executor)."""
from __future__ import annotations

import argparse
import sys


def _cmd_kernels(args) -> int:
    import lowp

    print("available GEMM kernels (best first):", ", ".join(lowp.kernels()))
    print("default:", lowp.current_kernel(), "| threads:", lowp.get_num_threads())
    return 0


def _cmd_bench(args) -> int:
    if args.target == "gemm":
        from lowp.benchmarks import gemm as bench_gemm

        return int(bench_gemm.main(args.rest) or 0)
    print(f"lowp bench: unknown target {args.target!r} (expected 'gemm')", file=sys.stderr)
    return 2


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lowp", description="Exact integer inference for quantized networks.")
    sub = p.add_subparsers(dest="command", required=True)
    k = sub.add_parser("kernels", help="list the GEMM kernels this CPU can run")
    k.set_defaults(func=_cmd_kernels)
    b = sub.add_parser("bench", help="benchmarks: `lowp bench gemm [options]`")
    b.add_argument("target", help="'gemm'")
    b.add_argument("rest", nargs=argparse.REMAINDER, help="options passed to the benchmark")
    b.set_defaults(func=_cmd_bench)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
