"""Write a synthetic Hub snapshot for the emulator.

python scripts/gen_hub.py OUT_DIR --models 300 [--seed 0] [--no-weights]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from kinhub.sandbox.hub import generate_hub


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="snapshot directory (created)")
    parser.add_argument("--models", type=int, default=300, help="number of repos")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-weights", action="store_true", help="skip safetensors/GGUF files")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    manifest = generate_hub(
        args.out, n_models=args.models, seed=args.seed, weights=not args.no_weights
    )
    elapsed = time.perf_counter() - start
    print(f"{len(manifest.repos)} repos in {args.out} ({elapsed:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
