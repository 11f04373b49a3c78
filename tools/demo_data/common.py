"""What the demo-data generators in tools/demo_data/ share: paths, file writing, splitting
helpers and the name lists that both ``ner`` and ``qa`` draw from.

Only the Python standard library is used. Nothing here draws random numbers of its own: each
generator seeds its own ``random.Random``, so the datasets do not depend on one another.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The built-in demo datasets, one folder per task (package data ``ptrun.plugins: demo/*/*``).
DEMO_DIR = ROOT / "plugins" / "demo"

#: Size budget for all demo data in the repository together: the built-in datasets (package data
#: of the ptrun wheel) and the example plugin's intent data. ``python3 tools/demo_data`` checks
#: the built-in ones, tests/test_demo_data.py all of them.
MAX_TOTAL_BYTES = 600 * 1024


# ---------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------

def write_text(path: Path, text: str) -> None:
    """Write ``text`` as UTF-8 with ``\\n`` line ends on every platform."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)


def write_files(files: dict[str, str], out_dir: Path) -> list[Path]:
    """Write ``{file name: text}`` into ``out_dir``; returns the paths written."""
    out_dir = Path(out_dir)
    paths = []
    for name, text in files.items():
        path = out_dir / name
        write_text(path, text)
        paths.append(path)
    return paths


def jsonl(rows: list[dict]) -> str:
    """One JSON object a line, non-ASCII kept as is."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def out_dir_arg(argv: list[str] | None, default: Path, doc: str | None) -> Path:
    """The ``--out DIR`` option of a generator run as a script (default: its own folder)."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=default,
                        help="folder to write into (default: %(default)s)")
    return parser.parse_args(argv).out


def show_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def print_summary(report: list[str], paths: list[Path]) -> None:
    for line in report:
        print(line)
    total = sum(p.stat().st_size for p in paths)
    print("wrote {} files, {} bytes in total".format(len(paths), total))
    for p in paths:
        print("  {} ({} bytes)".format(show_path(p), p.stat().st_size))


# ---------------------------------------------------------------------------
# text and splitting
# ---------------------------------------------------------------------------

def generator(out_dir: Path, build_splits, render, report, doc: str | None):
    """``(build, write, main)`` of a dataset module, from its three steps: ``build_splits()``
    makes the data, ``render(splits)`` the file texts (name -> text), ``report(splits)`` the
    summary lines ``main`` prints."""

    def build() -> dict[str, str]:
        """File name -> exact text of every file of the dataset."""
        return render(build_splits())

    def write(target: Path | None = None) -> list[Path]:
        """Write build() into ``target`` (default: the dataset's folder); returns the paths."""
        return write_files(build(), out_dir if target is None else target)

    def main(argv: list[str] | None = None) -> list[Path]:
        splits = build_splits()
        paths = write_files(render(splits), out_dir_arg(argv, out_dir, doc))
        print_summary(report(splits), paths)
        return paths

    return build, write, main


def split_holdout(rng: random.Random, items: list[str], frac: float) -> tuple[list[str], list[str]]:
    """Deterministically split ``items`` into (seen, held_out)."""
    items = list(dict.fromkeys(items))  # de-duplicate, keep order
    order = list(items)
    rng.shuffle(order)
    n_hold = max(1, round(len(order) * frac))
    held = set(order[:n_hold])
    seen = [x for x in items if x not in held]
    held_out = [x for x in items if x in held]
    return seen, held_out


def cap_first(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


# ---------------------------------------------------------------------------
# name lists used by both ner and qa (changing one changes both datasets)
# ---------------------------------------------------------------------------

FIRST_NAMES = """
Anna Lukas Maria James Sofia Daniel Elena Thomas Laura Marco Hannah Pierre Yuki
Kenji Amara Kwame Ingrid Lars Fatima Omar Priya Rahul Chen Wei Isabel Diego Olga
Ivan Nadia Samuel Grace Peter Rosa Mateo Clara Felix Aisha Tariq Mei Hiroshi Lena
Jonas Camille Luc Beatriz Joao Zofia Piotr Emma Oliver Noah Chloe Ethan Leila
Yusuf Ana Carlos Helen Victor Astrid Nils Freya Tomas Eva Pablo Lucia Martin Julia
Robert Sarah David Irene Kofi Zainab Arjun Meera Sven Greta Andrei Katya Miriam
Hugo Teresa Rafael Ines Malik Selin Dmitri Agnes Bruno Nora
""".split()

LAST_NAMES = """
Schneider Moreau Rossi Novak Kowalski Tanaka Sato Okafor Mensah Lindqvist Haddad
Rahman Sharma Patel Zhang Liu Fernandez Alvarez Petrov Costa Silva Jensen Hansen
Dubois Bernard Weber Fischer Becker Kruger Nakamura Kimura Adeyemi Osei Bakker
Visser Horvath Nagy Popescu Dimitrov Karlsson Nilsson O'Brien Murphy Walsh Campbell
Morgan Hughes Brennan Castillo Romero Navarro Ortega Greco Conti Marino Yilmaz
Demir Aziz Farouk Mwangi Odhiambo Kamau Takahashi Yamamoto Park Nguyen Tran Santos
Pereira Almeida Varga Svoboda Dvorak Lehmann Vogel Hartmann Berg Strand Holm Aalto
Virtanen Korhonen Salo Ruiz Vega Molina Delgado Chaudhry Qureshi Abbasi Hussein
Nasser Barlow Whitfield Ashworth Pemberton Crane Fairfax Holloway Kendrick Okonkwo
Lindgren Esposito Moretti Sorensen Brandt
""".split() + ["van der Linde", "de la Cruz", "Da Silva", "van Houten", "El Amrani", "de Vries",
               "Le Roux", "St. Clair"]

ORG_STEMS = [
    "Adlerwood", "Brightwater", "Carrowmore", "Delvane", "Eastlake", "Fennick", "Glenhaven",
    "Harbrook", "Ironvale", "Juniper", "Kestrel", "Larkfield", "Marrowby", "Northgate",
    "Oakridge", "Pellham", "Quarrystone", "Redwater", "Silverline", "Thornbury", "Ulmstead",
    "Valmora", "Westmarch", "Yarrow", "Zephyr", "Altmann", "Bergstrom", "Castellan", "Duvall",
    "Ebbing", "Falconer", "Greystone", "Halden", "Meridian", "Novaterra", "Orland", "Pinecrest",
    "Rosedale", "Stanmore", "Tideway", "Vantor", "Wexley", "Brannock", "Calloway", "Dunmore",
    "Corvane", "Lumiere", "Solvik", "Arkwell", "Bellmont", "Cindral", "Drayfield", "Emberly",
    "Foxhall", "Gantry", "Holmfirth", "Kilnworth", "Mistral", "Nordhavn", "Ostrava", "Penrose",
    "Quenby", "Ravelin", "Sandrock", "Tamsin", "Vireon", "Whitcombe", "Axford",
]

ORG_SUFFIXES = [
    "Group", "Holdings", "Bank", "Motors", "Energy", "Airlines", "Pharmaceuticals", "Systems",
    "Capital", "Foods", "Telecom", "Insurance", "Steel", "Logistics", "Media", "Technologies",
    "Partners", "Mining", "Chemicals", "Retail", "Shipping", "Brewing", "Robotics",
    "Semiconductor", "Construction", "Pharma", "Asset Management", "Power and Light",
    "Rail Services",
]
