#!/usr/bin/env python3
"""Build the bundled gazette: the same as `gazette build` in this folder."""
import sys
from pathlib import Path

from gazette.cli import run

if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    run(["build", "--site", str(here), *sys.argv[1:]])
