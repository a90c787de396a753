"""The compatibility gate: committed snapshots of every event schema and every service's
OpenAPI, and the command that checks or updates them.

    python -m shared.contracts.snapshot                      # exit 1 on a breaking change
    python -m shared.contracts.snapshot --update --reason "why this break is acceptable"

Run from the repository root (snapshots in ``contracts/snapshots/``). A breaking change
(``shared.contracts.compat``) needs either a new major version of the event (the
producer publishes both while consumers move) or an explicit update with a reason, which
is appended to ``contracts/CHANGELOG.md`` with the changes it accepted. The OpenAPI
documents come from each service's ``create_app()`` (named in ``shared.catalog``), built
without starting it.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.catalog import SERVICES
from shared.contracts import CONTRACTS
from shared.contracts.compat import event_breaks, openapi_breaks

DEFAULT_DIR = Path("contracts")


def current_events() -> dict[str, Any]:
    """``"<type> v<n>"`` -> the JSON Schema of that contract's data."""
    return {f"{c.TYPE} v{c.VERSION}": c.model_json_schema(by_alias=True) for c in CONTRACTS}


def current_openapi() -> dict[str, dict[str, Any]]:
    """Service name -> the OpenAPI document its app serves at ``/openapi.json``."""
    documents = {}
    for service in SERVICES:
        module, factory = service.factory.split(":")
        app = getattr(importlib.import_module(module), factory)()
        documents[service.name] = app.openapi()
    return documents


def _read(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else {}


def _write(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")


def breaking_changes(directory: Path = DEFAULT_DIR, *,
                     events: dict[str, Any] | None = None,
                     openapi: dict[str, dict[str, Any]] | None = None) -> list[str]:
    """Every breaking change of the current contracts against the snapshots in
    ``directory`` (a service whose snapshot is missing is compared with nothing)."""
    snapshots = directory / "snapshots"
    found = event_breaks(_read(snapshots / "events.json"),
                         current_events() if events is None else events)
    documents = current_openapi() if openapi is None else openapi
    for path in sorted((snapshots / "openapi").glob("*.json")):
        found += openapi_breaks(path.stem, _read(path), documents.get(path.stem, {}))
    return found


def update(directory: Path, reason: str) -> list[str]:
    """Write the current contracts as the snapshots; log ``reason`` with what it accepted."""
    accepted = breaking_changes(directory)
    snapshots = directory / "snapshots"
    _write(snapshots / "events.json", current_events())
    for service, document in current_openapi().items():
        _write(snapshots / "openapi" / f"{service}.json", document)
    changelog = directory / "CHANGELOG.md"
    entry = [f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {reason}", ""]
    entry += [f"- breaking: {line}" for line in accepted] or ["- no breaking change"]
    previous = changelog.read_text() if changelog.exists() else (
        "# Contract snapshot changes\n\nEvery update of `contracts/snapshots/`, with its "
        "reason (`python -m shared.contracts.snapshot --update --reason ...`).\n")
    changelog.write_text(previous.rstrip("\n") + "\n\n" + "\n".join(entry) + "\n")
    return accepted


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m shared.contracts.snapshot",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--update", action="store_true", help="write the snapshots")
    parser.add_argument("--reason", default="", help="why (required with --update)")
    args = parser.parse_args(argv)
    if args.update:
        if not args.reason.strip():
            parser.error("--update needs --reason")
        accepted = update(args.dir, args.reason.strip())
        print(f"snapshots updated; {len(accepted)} breaking change(s) accepted")
        return
    found = breaking_changes(args.dir)
    for line in found:
        print(line)
    if found:
        print(f"{len(found)} breaking change(s): add a new major version, or run with "
              "--update --reason", file=sys.stderr)
        sys.exit(1)
    print("contracts compatible with the snapshots")


if __name__ == "__main__":
    main()
