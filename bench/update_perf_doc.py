"""Splice a `lowp bench gemm --out DIR` report into docs/PERFORMANCE.md (between the markers).

    python bench/update_perf_doc.py DIR
Copies DIR/gemm.png and DIR/gemm.json to docs/perf/ and replaces the text between
<!-- gemm-results:begin --> and <!-- gemm-results:end --> with DIR/gemm.md (minus its title).
"""
import os
import shutil
import sys

BEGIN, END = "<!-- gemm-results:begin -->", "<!-- gemm-results:end -->"


def main(argv):
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    src = argv[0]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    doc = os.path.join(root, "docs", "PERFORMANCE.md")
    perf = os.path.join(root, "docs", "perf")
    os.makedirs(perf, exist_ok=True)
    with open(os.path.join(src, "gemm.md")) as f:
        report = f.read().split("\n", 1)[1].strip()  # drop the "# ..." title
    report = report.replace("\n## ", "\n#### ")  # under "## GEMM microbenchmark" / "### Results"
    for name in ("gemm.png", "gemm.json"):
        if os.path.exists(os.path.join(src, name)):
            shutil.copy(os.path.join(src, name), os.path.join(perf, name))
    with open(doc) as f:
        text = f.read()
    i, j = text.index(BEGIN) + len(BEGIN), text.index(END)
    text = text[:i] + "\n" + report + "\n\n![GEMM throughput](perf/gemm.png)\n" + text[j:]
    with open(doc, "w") as f:
        f.write(text)
    print(f"updated {doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
