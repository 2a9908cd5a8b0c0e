"""Load the cadence YAML files into the database; a changed file becomes a new version.

    python -m scripts.load_cadences [DIRECTORY]
"""
from __future__ import annotations

import sys
from pathlib import Path

from config import get_settings
from domain.cadences import validate_cadence
from messaging.rendering import template_problem
from persistence import cadences as cadence_store
from persistence.db import database_for


def load(directory: Path = cadence_store.CADENCES_DIR, url: str | None = None) -> int:
    definitions = cadence_store.read_files(directory)
    failed = False
    for definition in definitions:
        for problem in validate_cadence(definition, template_problem):
            print(f"{definition.get('name', '?')}: {problem}", file=sys.stderr)
            failed = True
    if failed:
        return 1
    db = database_for(url or get_settings().resolved_database_url)
    with db.session() as session:
        for name, version, changed in cadence_store.load_definitions(session, definitions):
            print(f"  {name:<10} v{version}  {'loaded' if changed else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(load(Path(sys.argv[1]) if len(sys.argv) > 1 else cadence_store.CADENCES_DIR))
