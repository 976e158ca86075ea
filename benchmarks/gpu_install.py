"""Install this package where there is no internet: from the wheels in ``wheels/`` (made by
``make gpu-wheels`` on a machine with the registry), into ``--target``, using whatever the
interpreter already has (its own torch, numpy, ...) and taking from ``wheels/`` only the
distributions it lacks. Prints what it installed; exits 1 naming any wheel that is missing.

    python benchmarks/gpu_install.py --wheels wheels --target .venv-gpu/site
    PYTHONPATH=.venv-gpu/site python -m genurl_graph.cli.main info
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import re
import subprocess
import sys
from pathlib import Path

# what genurl-graph needs at run time beside torch (pyproject's dependencies and theirs), and pytest
NEEDED = [
    "numpy",
    "scipy",
    "networkx",
    "typer",
    "rich",
    "scikit-learn",
    "pandas",
    "ogb",
    "click",
    "shellingham",
    "typing_extensions",
    "markdown-it-py",
    "mdurl",
    "pygments",
    "joblib",
    "threadpoolctl",
    "python-dateutil",
    "six",
    "tzdata",
    "tqdm",
    "outdated",
    "littleutils",
    "requests",
    "urllib3",
    "certifi",
    "idna",
    "charset-normalizer",
    "annotated-doc",
    "pytest",
    "iniconfig",
    "pluggy",
    "packaging",
]


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed(name: str, target: Path) -> bool:
    try:
        md.distribution(name)
        return True
    except md.PackageNotFoundError:
        return any(
            norm(d.metadata["Name"]) == norm(name) for d in md.distributions(path=[str(target)])
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wheels", default="wheels")
    parser.add_argument("--target")
    parser.add_argument(
        "--list", action="store_true", help="print the distributions it may need, and stop"
    )
    args = parser.parse_args()
    if args.list:
        print(" ".join(NEEDED))
        return
    if not args.target:
        parser.error("--target is required")
    wheels, target = Path(args.wheels), Path(args.target)
    target.mkdir(parents=True, exist_ok=True)
    by_name = {}
    for whl in sorted(wheels.glob("*.whl")):
        by_name.setdefault(norm(whl.name.split("-")[0]), whl)
    ours = by_name.get("genurl-graph")
    if ours is None:
        sys.exit(
            f"no genurl_graph wheel in {wheels}/: run `make gpu-wheels` where the registry is "
            f"reachable"
        )
    lacking = [n for n in NEEDED if not installed(n, target)]
    missing = [n for n in lacking if norm(n) not in by_name]
    optional = {"click", "annotated-doc"}  # needed by some typer versions only
    if set(missing) - optional:
        sys.exit(
            f"this Python lacks {', '.join(sorted(set(missing) - optional))} and {wheels}/ has no "
            f"wheel "
            "for it: run `make gpu-wheels` (Python 3.12 wheels) where the registry is reachable"
        )
    todo = [by_name[norm(n)] for n in lacking if norm(n) in by_name] + [ours]
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "-q",
        "--no-index",
        "--no-deps",
        "--upgrade",
        "--target",
        str(target),
        *map(str, todo),
    ]
    proc = subprocess.run(cmd)
    if proc.returncode:
        sys.exit(proc.returncode)
    print(
        f"installed into {target}: {', '.join(w.name.split('-')[0] for w in todo)} "
        f"(already present: {len(NEEDED) - len(lacking)} of {len(NEEDED)} dependencies)"
    )


if __name__ == "__main__":
    main()
