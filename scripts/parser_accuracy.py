"""Per-class exact accuracy, edge precision and edge recall of the card parser.

Usage: python scripts/parser_accuracy.py [FOLDER ...] [--misses]
(default folders: tests/fixtures/{dev,heldout,heldout2}/cards).
A folder holds ``<name>.md`` cards beside ``<name>.expected.json`` labels with a
``class`` key; the measure is defined in ``kinhub.crawler.accuracy``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from kinhub.crawler.accuracy import score_folder

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
DEFAULT = [FIXTURES / f / "cards" for f in ("dev", "heldout", "heldout2")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, default=DEFAULT)
    parser.add_argument("--misses", action="store_true", help="list what each miss got wrong")
    args = parser.parse_args()
    for folder in args.folders:
        by_class, total, results = score_folder(folder)
        print(f"{folder}")
        print(f"  {'class':20s} {'cards':>5s} {'exact':>7s} {'prec':>6s} {'recall':>6s}")
        for row in [*by_class.values(), total]:
            print(
                f"  {row.label:20s} {row.cases:5d} {row.accuracy:7.1%} "
                f"{row.precision:6.2f} {row.recall:6.2f}"
            )
        if args.misses:
            for case in results:
                if not case.exact:
                    print(f"  MISS {case.name}:")
                    for key in case.wrong_keys:
                        print(f"    {key}: want {case.expected[key]!r} got {case.got[key]!r}")
        print()


if __name__ == "__main__":
    main()
