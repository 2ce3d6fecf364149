"""`python -m benchmarks`: the benchmarks, each of which updates its part of docs/performance.md.

    python -m benchmarks [OPTIONS]            # the ingest benchmark (issue 3), as before
    python -m benchmarks ingest [OPTIONS]     # the same, by name
    python -m benchmarks metrics [OPTIONS]    # the metric refresh benchmark (issue 4)
    python -m benchmarks spc [OPTIONS]        # the SPC engine benchmark (issue 5)
    python -m benchmarks dashboard [OPTIONS]  # the team dashboard and packs benchmark (issue 8)

Options are passed on to the benchmark; see
`python -m benchmarks [ingest|metrics|spc|dashboard] --help`.
"""

from __future__ import annotations

import sys

from benchmarks import ingest


def main() -> None:
    argv = sys.argv[1:]
    if argv and argv[0] == "metrics":
        from benchmarks import metrics

        metrics.main(argv[1:])
    elif argv and argv[0] == "spc":
        from benchmarks import spc

        spc.main(argv[1:])
    elif argv and argv[0] == "dashboard":
        from benchmarks import dashboard

        dashboard.main(argv[1:])
    elif argv and argv[0] == "ingest":
        ingest.main(argv[1:])
    else:
        ingest.main(argv)


if __name__ == "__main__":
    main()
