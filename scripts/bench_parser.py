"""Benchmark the card/config parser: typical fixtures and worst-case 1 MB inputs.

Usage: python scripts/bench_parser.py [--repeat N]   (from the repo root, with
kinhub installed or PYTHONPATH=.)
Prints milliseconds per parse (mean over N runs) for the fixture corpus and for
a few adversarial inputs at the card size cap.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

from kinhub.crawler.facts import model_facts
from kinhub.crawler.parse import MAX_CARD_CHARS, parse_card, parse_config

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"


def _mean_ms(func: Callable[[], object], repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        func()
    return (time.perf_counter() - start) * 1000 / repeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    cards = [p.read_text(encoding="utf-8") for p in sorted((FIXTURES / "cards").glob("*.md"))]
    configs = [p.read_text(encoding="utf-8") for p in sorted((FIXTURES / "configs").glob("*.y*ml"))]
    card_ms = _mean_ms(lambda: [parse_card(t) for t in cards], args.repeat) / len(cards)
    config_ms = _mean_ms(lambda: [parse_config(t) for t in configs], args.repeat) / len(configs)
    facts_ms = _mean_ms(
        lambda: [model_facts(card_text=t, config_text=None) for t in cards], args.repeat
    ) / len(cards)
    print(f"fixture cards   ({len(cards)}): {card_ms:8.3f} ms/card")
    print(f"fixture configs ({len(configs)}): {config_ms:8.3f} ms/config")
    print(f"model_facts on cards:   {facts_ms:8.3f} ms/card")
    worst = {
        "1 MB of fence lines": "```\n" * (MAX_CARD_CHARS // 4),
        "1 MB unclosed front matter": "---\n" + "k: v\n" * (MAX_CARD_CHARS // 5),
        "1 MB of 'models:' lines": "models:\n" * (MAX_CARD_CHARS // 8),
        "50 MB card (truncated)": "lorem ipsum dolor\n" * (50_000_000 // 18),
    }
    for name, text in worst.items():
        print(f"{name:28s}: {_mean_ms(lambda t=text: parse_card(t), 3):8.1f} ms")


if __name__ == "__main__":
    main()
