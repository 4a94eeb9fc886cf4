"""Profile one ``partition_grids`` call on a benchmark instance (cProfile).

Usage (from the repository root)::

    .venv/bin/python benchmarks/profile_gridplan.py singapore [--quick] [--top 25]

Prints the top entries by cumulative and by own time and writes the raw profile to
``benchmarks/work/profile_<instance>.prof`` (open it with ``python -m pstats`` or snakeviz).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def main(argv: list[str] | None = None) -> int:
    from instances import BUILDERS

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("instance", choices=sorted(BUILDERS))
    p.add_argument("--quick", action="store_true", help="the shrunken instance")
    p.add_argument("--top", type=int, default=25, help="entries per listing")
    args = p.parse_args(argv)

    import gridplan

    inst = BUILDERS[args.instance](quick=args.quick)
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    gridplan.partition_grids(inst.units, **inst.layers, seed=0)
    prof.disable()
    wall = time.perf_counter() - t0
    out = HERE / "work" / f"profile_{args.instance}{'_quick' if args.quick else ''}.prof"
    out.parent.mkdir(parents=True, exist_ok=True)
    prof.dump_stats(out)
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf).strip_dirs()
    stats.sort_stats("cumulative").print_stats(args.top)
    stats.sort_stats("tottime").print_stats(args.top)
    sys.stdout.write(f"{inst.title}: {len(inst.units):,} units, {wall:.1f} s under cProfile\n")
    sys.stdout.write(buf.getvalue())
    sys.stdout.write(f"raw profile: {out}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
