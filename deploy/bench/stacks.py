"""Reading py-spy's collapsed stacks (``thread;frame;frame count`` per line, ``--format raw``)
for ``make profile``: how many samples pass through each function, and stop in it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from deploy.processes import ROOT


def frame_name(frame: str) -> str:
    """``send (redis/connection.py:123)`` as ``redis/connection.py:send``: one name per function."""
    name, _, where = frame.partition(" (")
    path = where.split(":", 1)[0]
    for marker in ("site-packages/", "lib/python3", str(ROOT) + "/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{path}:{name}"


def summary(files: list[Path]) -> tuple[int, Counter[str], Counter[str]]:
    """Samples, and by function the samples through it (cumulative) and ending in it (self)."""
    total, cumulative, own = 0, Counter[str](), Counter[str]()
    for file in files:
        for line in file.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue  # a frame torn by sampling without pausing (--nonblocking) spans lines
            n = int(count)
            frames = [frame_name(f) for f in stack.split(";")[1:]]  # the first is the thread
            total += n
            for name in set(frames):
                cumulative[name] += n
            if frames:
                own[frames[-1]] += n
    return total, cumulative, own
