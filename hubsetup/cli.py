"""The `hubsetup` command: what an admin runs with `docker compose exec hub hubsetup ...`."""

import argparse
import logging
import os
import sys

from . import settings as settings_module
from .accounts import AccountsError
from .sync import sync_accounts

HUB_CONFIG = "/srv/jupyterhub/jupyterhub_config.py"


def accounts_sync(args, settings):
    try:
        report = sync_accounts(settings, dry_run=args.dry_run)
    except AccountsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0


def start(args, settings):
    """Sync accounts, then become JupyterHub: a bad accounts.csv stops the start, loudly."""
    status = accounts_sync(argparse.Namespace(dry_run=False), settings)
    if status:
        print("error: not starting JupyterHub until accounts.csv is fixed", file=sys.stderr)
        return status
    sys.stdout.flush()  # exec replaces the process: unflushed output would be lost
    os.chdir(settings.state_dir)
    os.execvp("jupyterhub", ["jupyterhub", "-f", args.config, *args.jupyterhub_args])


def show_settings(args, settings):
    print(settings_module.markdown_table())
    return 0


def parser():
    top = argparse.ArgumentParser(prog="hubsetup", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)

    accounts = commands.add_parser("accounts", help="manage the accounts from accounts.csv")
    accounts_commands = accounts.add_subparsers(dest="action", required=True)
    sync = accounts_commands.add_parser(
        "sync", help="create, update and lock users to match accounts.csv"
    )
    sync.add_argument("--dry-run", action="store_true", help="show what would change, change nothing")
    sync.add_argument("--file", help="accounts file (default: $ACCOUNTS_FILE)")
    sync.set_defaults(func=accounts_sync)

    run = commands.add_parser("start", help="sync accounts, then run JupyterHub (the container's command)")
    run.add_argument("--config", default=HUB_CONFIG)
    run.add_argument("jupyterhub_args", nargs=argparse.REMAINDER)
    run.set_defaults(func=start)

    table = commands.add_parser("settings", help="print the environment variables hubsetup reads")
    table.set_defaults(func=show_settings)
    return top


def main(argv=None):
    logging.basicConfig(level=logging.INFO, format="[hubsetup %(levelname)s] %(message)s")
    args = parser().parse_args(argv)
    overrides = {"accounts_file": args.file} if getattr(args, "file", None) else {}
    settings = settings_module.Settings.from_env(**overrides)
    return args.func(args, settings)


if __name__ == "__main__":
    sys.exit(main())
