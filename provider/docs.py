"""Keep the docs' argument and attribute tables true to the schemas.

`python -m provider.docs` rewrites the generated part of each page (between the markers below) from the
schema descriptions; `python -m provider.docs --check` exits 1 when a page is stale (a test runs it).
The prose and the example of each page are written by hand around the markers.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from tf.schema import Attribute, Schema
from tf.types import List, Map, Set, TfType

from provider._provider import SCHEMA as PROVIDER_SCHEMA
from provider._types import Object
from provider.data_source_display import SCHEMA as DISPLAY_DATA_SCHEMA
from provider.data_source_items import SCHEMA as ITEMS_DATA_SCHEMA
from provider.data_source_system import SCHEMA as SYSTEM_DATA_SCHEMA
from provider.resource_display import SCHEMA as DISPLAY_SCHEMA
from provider.resource_item import SCHEMA as ITEM_SCHEMA

BEGIN = "<!-- BEGIN GENERATED: schema tables, from the code by `python -m provider.docs`; do not edit -->"
END = "<!-- END GENERATED -->"
DOCS = Path(__file__).resolve().parent.parent / "docs"


@dataclass(frozen=True)
class Page:
    path: str
    schema: Schema


PAGES = [
    Page("provider.md", PROVIDER_SCHEMA),
    Page("resources/item.md", ITEM_SCHEMA),
    Page("resources/display.md", DISPLAY_SCHEMA),
    Page("data-sources/system.md", SYSTEM_DATA_SCHEMA),
    Page("data-sources/items.md", ITEMS_DATA_SCHEMA),
    Page("data-sources/display.md", DISPLAY_DATA_SCHEMA),
]


def type_name(kind: TfType) -> str:
    if isinstance(kind, Object):
        fields = ", ".join(f"{name} = {type_name(field)}" for name, field in kind.attribute_types.items())
        return f"object({{{fields}}})"
    if isinstance(kind, Set):  # before List: Set subclasses List
        return f"set({type_name(kind.element_type)})"
    if isinstance(kind, List):
        return f"list({type_name(kind.element_type)})"
    if isinstance(kind, Map):
        return f"map({type_name(kind.element_type)})"
    return type(kind).__name__.lower()


def _row(attribute: Attribute) -> str:
    flags = [
        "required" if attribute.required else "optional" if attribute.optional else "read-only",
        *(["sensitive"] if attribute.sensitive else []),
        *(["forces replacement"] if attribute.requires_replace else []),
    ]
    description = (attribute.description or "").replace("|", "\\|").replace("\n", " ")
    return f"| `{attribute.name}` | `{type_name(attribute.type)}` | {', '.join(flags)} | {description} |"


def render_tables(schema: Schema) -> str:
    arguments = [a for a in schema.attributes if a.required or a.optional]
    attributes = [a for a in schema.attributes if a.computed and not (a.required or a.optional)]
    header = ["| name | type | | description |", "|---|---|---|---|"]
    lines = [BEGIN, ""]
    if arguments:
        lines += ["## Argument reference", "", *header, *map(_row, arguments), ""]
    if attributes:
        lines += ["## Attribute reference", "", *header, *map(_row, attributes), ""]
    lines.append(END)
    return "\n".join(lines)


def regenerate(text: str, schema: Schema, path: Path) -> str:
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"{path}: missing the generated-section markers")
    return text[:start] + render_tables(schema) + text[end + len(END) :]


def stale_pages(docs: Path = DOCS, write: bool = False) -> list[Path]:
    stale = []
    for page in PAGES:
        path = docs / page.path
        text = path.read_text()
        fresh = regenerate(text, page.schema, path)
        if fresh != text:
            stale.append(path)
            if write:
                path.write_text(fresh)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m provider.docs", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale pages (exit 1 if any)")
    args = parser.parse_args(argv)
    try:
        stale = stale_pages(write=not args.check)
    except (OSError, ValueError) as exc:
        print(f"provider docs: {exc}", file=sys.stderr)
        return 1
    for path in stale:
        print(f"{'stale' if args.check else 'updated'}: {path}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
