"""`upgrade`: changing an index's model while it keeps answering, rolling back, or dropping a half-built one."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from viewfinder.cli.options import EXIT_OK, index_path, progress_bar
from viewfinder.errors import ViewfinderError
from viewfinder.settings import add_option


def add_commands(commands: argparse._SubParsersAction) -> None:
    upgrade = commands.add_parser(
        "upgrade",
        help="re-embed an index with another model beside the live one, then swap it in (search stays up)",
    )
    action = upgrade.add_mutually_exclusive_group(required=True)
    action.add_argument("--model", help="the new model (any --model name `index` takes); resumes a stopped upgrade")
    action.add_argument("--rollback", action="store_true", help="bring back the model the last upgrade replaced")
    action.add_argument("--abort", action="store_true", help="drop a half-built upgrade")
    add_option(upgrade, "index")
    add_option(upgrade, "device")
    add_option(upgrade, "runtime")
    add_option(upgrade, "batch_size")
    upgrade.add_argument("--workers", type=int, default=None, metavar="N", help="decode threads (default: cores)")
    add_option(
        upgrade,
        "query_model",
        help="the query model servers of this index use: an upgrade that leaves it unaligned is refused",
    )
    upgrade.add_argument(
        "--drop-query-model",
        action="store_true",
        help="upgrade even though the --query-model servers use is aligned with the old model (they drop it)",
    )
    upgrade.add_argument("--json", action="store_true", help="print a JSON summary")
    upgrade.set_defaults(run=_upgrade)


def _upgrade(args: argparse.Namespace) -> int:
    from viewfinder.app import upgrade

    index = index_path(args.index)
    if args.rollback or args.abort:
        if args.drop_query_model:
            raise ViewfinderError("--drop-query-model goes with --model.")
        model = upgrade.rollback_model(index) if args.rollback else upgrade.abort_upgrade(index)
        done = {"rollback": args.rollback, "abort": args.abort, "model": model}
        if args.json:
            print(json.dumps(done))
        elif args.rollback:
            print(f"{index} answers with {model} again; the model it replaced is kept for another --rollback")
        else:
            print(f"dropped the half-built upgrade of {index} to {model}")
        return EXIT_OK
    with progress_bar() as progress:
        report = upgrade.upgrade(
            index,
            args.model,
            device=args.device,
            runtime=args.runtime,
            batch_size=args.batch_size,
            workers=args.workers,
            progress=progress,
            query_model=args.query_model,
            drop_query_model=args.drop_query_model,
        )
    if args.json:
        print(json.dumps(asdict(report)))
        return EXIT_OK
    print(
        f"{index} now answers with {report.model} ({report.dim}-d, {report.images} images): {report.embedded} "
        f"embedded, {report.reused} reused, {len(report.dropped)} dropped ({report.seconds:.1f} s, "
        f"{report.images_per_second:.1f} images/s); `viewfinder upgrade --rollback` brings back "
        f"{report.previous_model}"
    )
    return EXIT_OK
