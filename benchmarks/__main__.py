"""`python -m benchmarks`: run every benchmark (today, the ingest benchmark) and update the docs.

Options are passed on to the ingest benchmark; see `python -m benchmarks --help`.
"""

from __future__ import annotations

import sys

from benchmarks import ingest


def main() -> None:
    ingest.main(sys.argv[1:])


if __name__ == "__main__":
    main()
