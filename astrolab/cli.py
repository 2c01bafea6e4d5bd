"""The ``astrolab`` command line (also ``python -m astrolab``)."""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``astrolab`` command."""
    parser = argparse.ArgumentParser(prog="astrolab", description="astrolab: explore data, train models and read "
                                     "results in JupyterLab. FAST mode (ASTROLAB_FAST=1 or --fast) uses small sizes.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command")

    lab = sub.add_parser("lab", help="open JupyterLab on the notebooks (127.0.0.1, with a token)")
    lab.add_argument("--port", type=int, default=8888)
    lab.add_argument("--token", default=None, help="access token (default: a random one, printed)")
    lab.add_argument("--fast", action="store_true", help="FAST mode in the kernels")
    lab.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    lab.add_argument("--dry-run", action="store_true", help="print the command instead of running it")

    rep = sub.add_parser("reproduce", help="run notebooks headless; save executed notebooks, HTML and metrics")
    rep.add_argument("names", nargs="*", help="notebook names or prefixes (default: all)")
    rep.add_argument("--fast", action="store_true", help="FAST mode (minutes on a CPU)")
    rep.add_argument("--out", default="reproduce", help="output folder (default: ./reproduce)")
    rep.add_argument("--timeout", type=int, default=1800, help="per-cell time limit in seconds")
    rep.add_argument("--param", "-p", action="append", default=[], metavar="NAME=VALUE",
                     help="override a name of the notebooks' parameters cell, e.g. -p N=10000 -p EPOCHS=30 "
                          "(a Python literal; repeatable)")

    data = sub.add_parser("data", help="bundled and simulated datasets")
    dsub = data.add_subparsers(dest="data_command")
    dsub.add_parser("list", help="list datasets")
    info = dsub.add_parser("info", help="describe one dataset")
    info.add_argument("name")
    return parser


def _lab(args) -> int:
    from astrolab import config

    token = args.token or secrets.token_hex(24)
    cmd = [sys.executable, "-m", "jupyter", "lab", "--ip=127.0.0.1", f"--port={args.port}",
           f"--ServerApp.root_dir={config.notebooks_dir()}", f"--IdentityProvider.token={token}"]
    if args.no_browser:
        cmd.append("--no-browser")
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    env = dict(os.environ)
    env.setdefault("ASTROLAB_DATA", str(config.data_dir()))
    if args.fast or config.is_fast():
        env["ASTROLAB_FAST"] = "1"
    print(f"JupyterLab on http://127.0.0.1:{args.port}/lab?token={token}", flush=True)
    if args.dry_run:
        print(" ".join(cmd))
        return 0
    return subprocess.call(cmd, env=env)


def _reproduce(args) -> int:
    from astrolab.reproduce import parse_parameters, reproduce

    runs = reproduce(args.names, fast=args.fast or _fast_env(), out=args.out, timeout=args.timeout,
                     parameters=parse_parameters(args.param))
    failed = [r.name for r in runs if not r.ok]
    print(f"{len(runs) - len(failed)} of {len(runs)} notebooks ran; outputs in {args.out}")
    return 1 if failed else 0


def _fast_env() -> bool:
    from astrolab import config

    return config.is_fast()


def _data(args) -> int:
    from astrolab.data.registry import dataset_info, list_datasets

    if args.data_command == "info":
        print(dataset_info(args.name))
        return 0
    for name, summary in list_datasets().items():
        print(f"{name:24s} {summary}")
    return 0


def main(argv=None) -> int:
    """Entry point; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        import astrolab

        print(astrolab.__version__)
        return 0
    try:
        if args.command == "lab":
            return _lab(args)
        if args.command == "reproduce":
            return _reproduce(args)
        if args.command == "data":
            return _data(args)
    except Exception as exc:
        from astrolab.errors import AstrolabError

        if isinstance(exc, AstrolabError):
            print(f"astrolab: {exc}", file=sys.stderr)
            return 2
        raise
    parser.print_help()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
