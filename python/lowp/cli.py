"""The `lowp` command line."""
from __future__ import annotations

import argparse
import sys


def _cmd_kernels(args) -> int:
    import lowp

    print("available GEMM kernels (best first):", ", ".join(lowp.kernels()))
    print("default:", lowp.current_kernel(), "| threads:", lowp.get_num_threads())
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lowp", description="Exact integer inference for quantized networks.")
    sub = p.add_subparsers(dest="command", required=True)
    k = sub.add_parser("kernels", help="list the GEMM kernels this CPU can run")
    k.set_defaults(func=_cmd_kernels)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
