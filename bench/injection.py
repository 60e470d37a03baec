"""Injection and jailbreak detection on the labelled evaluation set, with speed per KB.

The set (`bench/data/injection_eval.jsonl`, built by `bench/injection_cases.py`) has attack
texts of eight families in six channels (a quarter obfuscated) and benign texts including
look-alikes; it is never used for training (`corpus/injection/`). User-channel texts are
scanned as `user` (jailbreak rules), the rest as `untrusted`. Detection and false flags are
printed per family and per channel, and for two halves of the set split by phrasing (every
channel variant of one phrasing falls in the same half): `dev` is the half looked at when
diagnosing misses and false flags, `test` the half only reported. Nothing is tuned on the
set: the classifier's threshold comes from the training corpus, the flag level is fixed.
Speed: each text scanned `--repeat` times; the p99 over texts of milliseconds per KB, a text
under 1 KB charged as 1 KB (its fixed cost is what a short text pays), and a 16 KB document.
Targets: detection >= 0.9, false flags <= 5%, <= 5 ms/KB p99.

    python bench/injection.py [--repeat 5] [--show dev]   # --show lists dev misses and flags
"""

from __future__ import annotations

import argparse
import json
import time
import zlib
from collections import Counter
from pathlib import Path

from mixstack.guard._injection import Channel, scan_injection

DATA = Path(__file__).parent / "data" / "injection_eval.jsonl"


def half(group: str) -> str:
    """`dev` or `test`: a fixed split by phrasing (CRC-32 of the group name)."""
    return "dev" if zlib.crc32(group.encode()) % 2 == 0 else "test"


def _table(title: str, hits: Counter[str], totals: Counter[str]) -> None:
    print(f"\n{title:<24}{'hits':>8}{'of':>6}{'rate':>8}")
    for key in sorted(totals):
        print(f"{key:<24}{hits[key]:>8}{totals[key]:>6}{hits[key] / totals[key]:>8.3f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--show", choices=["dev", "test", "all"], help="list misses and flags")
    args = parser.parse_args()
    rows = [json.loads(line) for line in DATA.open(encoding="utf-8")]
    scan_injection("warm up the classifier")
    caught: Counter[str] = Counter()
    total: Counter[str] = Counter()
    false_flags: Counter[str] = Counter()
    benign: Counter[str] = Counter()
    per_kb: list[float] = []
    for row in rows:
        channel: Channel = "user" if row["channel"] == "user" else "untrusted"
        text = row["text"]
        start = time.perf_counter()
        for _ in range(args.repeat):
            scan = scan_injection(text, channel=channel)
        elapsed = (time.perf_counter() - start) / args.repeat
        per_kb.append(elapsed * 1000 / max(len(text.encode()) / 1024, 1.0))
        part = half(row["group"])
        keys = [row["family"], f"channel:{row['channel']}", f"half:{part}", "all"]
        if row["label"]:
            keys += ["obfuscated"] if row.get("evasion") else []
            for key in keys:
                total[key] += 1
                caught[key] += scan.flagged
        else:
            for key in keys:
                benign[key] += 1
                false_flags[key] += scan.flagged
        if args.show in (part, "all") and scan.flagged != bool(row["label"]):
            what = "MISS" if row["label"] else "FLAG"
            print(f"{what} {row['group']} {row['channel']} {scan.score:.3f} {scan.kinds}")
            print(f"     {text[:160]!r}")
    big = " ".join(row["text"] for row in rows if not row["label"])[:16384]
    start = time.perf_counter()
    for _ in range(args.repeat):
        scan_injection(big)
    big_ms_kb = (time.perf_counter() - start) / args.repeat * 1000 / 16
    per_kb.sort()
    p50, p99 = per_kb[len(per_kb) // 2], per_kb[int(len(per_kb) * 0.99)]
    _table("detection", caught, total)
    _table("false flags", false_flags, benign)
    print(
        f"\nspeed: p50 {p50:.2f} ms/KB, p99 {p99:.2f} ms/KB (texts of the set, under 1 KB "
        f"charged as 1 KB); one 16 KB document {big_ms_kb:.2f} ms/KB"
    )
    detection = caught["all"] / total["all"]
    ff = false_flags["all"] / benign["all"]
    test_det = caught["half:test"] / total["half:test"]
    test_ff = false_flags["half:test"] / benign["half:test"]
    worst = max(
        (k for k in benign if k.startswith("channel:")), key=lambda k: false_flags[k] / benign[k]
    )
    ok = detection >= 0.9 and ff <= 0.05 and p99 <= 5.0
    print(
        f"injection: detection {detection:.3f} ({total['all']} injected), false flags {ff:.3f} "
        f"({benign['all']} benign; worst {worst} {false_flags[worst] / benign[worst]:.3f}), "
        f"test half {test_det:.3f}/{test_ff:.3f}, p50 {p50:.2f} p99 {p99:.2f} ms/KB, "
        f"16KB doc {big_ms_kb:.2f} ms/KB, targets {'met' if ok else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
