#!/usr/bin/env python3
"""Generate the demo data of the example plugin: ptrun_nli/data/{train,dev,test}.jsonl.

``{"id", "premise", "hypothesis", "label"}`` a line, the label one of ``entailment``,
``neutral`` and ``contradiction``, balanced over the three. Every pair is composed from the
scenes and word lists below (no third-party text): a scene draws invented people, towns and
numbers, writes a premise about them, and offers hypotheses that the premise entails, leaves
open or contradicts *by construction* (``four goats`` entails ``at least three goats`` and
contradicts ``only one goat``; ``A is older than B, and B is older than C`` entails ``A is older
than C``). No premise appears twice, so no premise is shared between splits.

Deterministic, independent of PYTHONHASHSEED: running it again rewrites the files
byte-identically (tests/test_nli_example.py checks that).

This script belongs to the example package and needs nothing else (only the Python standard
library, not ptrun): copy it along with the package.

Usage::

    python3 examples/ptrun-nli/tools/make_data.py [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from pathlib import Path

OUT_DIR = Path(__file__).resolve().parents[1] / "ptrun_nli" / "data"
LABELS = ["entailment", "neutral", "contradiction"]
PER_LABEL = {"train": 40, "dev": 10, "test": 10}  # pairs per label
SEED = 20240611 + 4  # the base seed of ptrun's demo data plus this dataset's offset

GIVEN = ["Ardo", "Belisa", "Corvin", "Dessa", "Elvar", "Fenna", "Gorim", "Halia", "Isko", "Jorun",
         "Kessa", "Lodan", "Mirae", "Nollo", "Orsel", "Pellam", "Quenna", "Rusko", "Sefa", "Tavin",
         "Ulla", "Vesko", "Wendel", "Yarra", "Zelig", "Brannoc", "Ilsabet", "Maro", "Tibbe", "Runa"]
FAMILY = ["Brackwater", "Dunmore", "Fallowby", "Greaves", "Hollin", "Kettering", "Lark", "Mossop",
          "Nettleford", "Oakley", "Pilbury", "Quill", "Ravensworth", "Saltley", "Thorne", "Underhay",
          "Vexley", "Whitlock", "Yarwood", "Ashgrove"]
TOWNS = ["Brindlemoor", "Caskwell", "Dunmarsh", "Elderholt", "Farrowgate", "Hollin Cross",
         "Kettlebury", "Lowmere", "Marrowdale", "Nettlecombe", "Oakhythe", "Pellingford", "Quarrow",
         "Redwick Vale", "Saltmere", "Thistlecote", "Umbergate", "Vellmouth", "Wrenhallow", "Yarrowby"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
NUMBERS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
           "eleven", "twelve"]
ORDINALS = {2: "second", 3: "third", 4: "fourth", 5: "fifth", 6: "sixth"}

#: job, what the person did, and the thing they did it to.
CRAFTS = [("carpenter", "repaired", "a wooden bench"), ("potter", "sold", "a set of blue bowls"),
          ("baker", "handed out", "rye loaves"), ("tailor", "mended", "a torn sail"),
          ("clockmaker", "cleaned", "a brass clock"), ("blacksmith", "forged", "a garden gate"),
          ("weaver", "showed", "a striped blanket"), ("glassblower", "blew", "a green vase"),
          ("bookbinder", "rebound", "an old atlas"), ("beekeeper", "sold", "jars of heather honey")]
VENUES = ["harbour market", "village hall", "spring fair", "old mill", "town library",
          "railway museum", "corn exchange", "river festival"]
OTHER_JOBS = ["ferry pilot", "schoolteacher", "miller", "chemist", "surveyor", "shepherd"]

#: what the person took, and how "by ..." says it.
VEHICLES = [("the early ferry", "by boat"), ("the mail coach", "by coach"),
            ("the morning train", "by train"), ("the river barge", "by boat"),
            ("the post bus", "by bus")]
PURPOSES = ["visit a cousin", "buy seeds at the market", "sit an exam", "collect a parcel",
            "deliver a painting", "see a doctor", "sign a lease", "return a borrowed fiddle"]

#: plural, singular
ANIMALS = [("goats", "goat"), ("hens", "hen"), ("ducks", "duck"), ("rabbits", "rabbit"),
           ("geese", "goose"), ("donkeys", "donkey"), ("pigs", "pig")]
SHELTERS = ["a wooden shed", "a small barn", "a fenced yard", "an old stable"]

#: shop, the thing it has many kinds of, the thing it has fewer kinds of.
SHOPS = [("bakery", "bread", "cake"), ("cheese shop", "cheese", "butter"),
         ("tea room", "tea", "coffee"), ("greengrocer", "apples", "pears"),
         ("florist", "roses", "lilies"), ("sweet shop", "toffee", "chocolate")]
STREETS = ["Mill", "Harbour", "Chapel", "Orchard", "Tanner", "Bridge", "Kiln", "Wharf"]

# ---------------------------------------------------------------------------
# scenes: rng -> (premise, {label: [hypotheses]})
# ---------------------------------------------------------------------------


def person(rng: random.Random) -> str:
    return "{} {}".format(rng.choice(GIVEN), rng.choice(FAMILY))


def two_towns(rng: random.Random) -> tuple[str, str]:
    first, second = rng.sample(TOWNS, 2)
    return first, second


def craft_scene(rng: random.Random):
    name, town = person(rng), rng.choice(TOWNS)
    job, did, thing = rng.choice(CRAFTS)
    venue, day = rng.choice(VENUES), rng.choice(DAYS)
    other_job = rng.choice(OTHER_JOBS)
    premise = "{}, a {} from {}, {} {} at the {} on {}.".format(name, job, town, did, thing, venue, day)
    return premise, {
        "entailment": [
            "{} was at the {} on {}.".format(name, venue, day),
            "{} works as a {}.".format(name, job),
            "Someone from {} was at the {} on {}.".format(town, venue, day),
            "{} {} {}.".format(name, did, thing),
        ],
        "neutral": [
            "{} was paid for the work.".format(name),
            "{} goes to the {} every week.".format(name, venue),
            "{} went to the {} with a friend.".format(name, venue),
            "The {} was crowded on {}.".format(venue, day),
            "{} also works as a {} at weekends.".format(name, other_job),
        ],
        "contradiction": [
            "{} has never been to the {}.".format(name, venue),
            "{} spent all of {} at home.".format(name, day),
            "Nobody from {} went to the {} on {}.".format(town, venue, day),
            "{} has never worked as a {}.".format(name, job),
        ],
    }


def journey_scene(rng: random.Random):
    name = person(rng)
    town, town2 = two_towns(rng)
    vehicle, by = rng.choice(VEHICLES)
    purpose, day = rng.choice(PURPOSES), rng.choice(DAYS)
    premise = "On {} morning, {} took {} from {} to {} to {}.".format(day, name, vehicle, town, town2, purpose)
    return premise, {
        "entailment": [
            "{} travelled to {}.".format(name, town2),
            "{} left {} on {}.".format(name, town, day),
            "{} went to {} {}.".format(name, town2, by),
            "{} wanted to {} in {}.".format(name, purpose, town2),
        ],
        "neutral": [
            "{} travels to {} every week.".format(name, town2),
            "{} was late on {}.".format(vehicle[0].upper() + vehicle[1:], day),
            "{} returned to {} the same evening.".format(name, town),
            "{} was travelling with a colleague.".format(name),
            "{} paid for the ticket in cash.".format(name),
        ],
        "contradiction": [
            "{} stayed in {} all of {} morning.".format(name, town, day),
            "{} walked all the way to {}.".format(name, town2),
            "{} has never been to {}.".format(name, town2),
            "{} did not leave {} that week.".format(name, town),
        ],
    }


def animals_scene(rng: random.Random):
    name, town = person(rng), rng.choice(TOWNS)
    plural, singular = rng.choice(ANIMALS)
    count = rng.randint(2, 9)
    other = rng.choice([n for n in range(2, 10) if n != count])
    shelter = rng.choice(SHELTERS)
    premise = "{} keeps {} {} in {} behind the cottage in {}.".format(name, NUMBERS[count], plural, shelter, town)
    return premise, {
        "entailment": [
            "{} has more than one {}.".format(name, singular),
            "{} keeps animals.".format(name),
            "There are {} behind the cottage in {}.".format(plural, town),
            "{} keeps at least {} {}.".format(name, NUMBERS[count - 1], plural if count > 2 else singular),
        ],
        "neutral": [
            "{} bought the {} last spring.".format(name, plural),
            "{} also keeps a dog.".format(name),
            "Each of the {} has a name.".format(plural),
            "{} lives alone in the cottage.".format(name),
            "The neighbours of {} complain about the {}.".format(name, plural),
        ],
        "contradiction": [
            "{} does not keep any animals.".format(name),
            "{} has only one {}.".format(name, singular),
            "{} keeps exactly {} {}.".format(name, NUMBERS[other], plural),
            "There are no {} in {}.".format(plural, town),
        ],
    }


def novel_scene(rng: random.Random):
    name, town = person(rng), rng.choice(TOWNS)
    nth = rng.randint(2, 6)
    years = rng.randint(2, 12)
    premise = "The {} novel by {}, set in {}, took {} years to write.".format(ORDINALS[nth], name, town, NUMBERS[years])
    return premise, {
        "entailment": [
            "{} has written more than one novel.".format(name),
            "One of the novels by {} is set in {}.".format(name, town),
            "{} spent more than a year writing a novel.".format(name),
            "{} has written at least {} novels.".format(name, NUMBERS[nth]),
        ],
        "neutral": [
            "The {} novel by {} became a bestseller.".format(ORDINALS[nth], name),
            "{} grew up in {}.".format(name, town),
            "{} is working on another novel.".format(name),
            "{} writes every morning.".format(name),
            "The {} novel by {} is about a lighthouse keeper.".format(ORDINALS[nth], name),
        ],
        "contradiction": [
            "{} has never written a novel.".format(name),
            "{} wrote the {} novel in a single month.".format(name, ORDINALS[nth]),
            "None of the novels by {} is set in {}.".format(name, town),
            "{} has written only one novel.".format(name),
        ],
    }


def ages_scene(rng: random.Random):
    a, b, c, d = rng.sample(GIVEN, 4)
    town = rng.choice(TOWNS)
    premise = "{} is older than {}, and {} is older than {}.".format(a, b, b, c)
    return premise, {
        "entailment": [
            "{} is older than {}.".format(a, c),
            "{} is younger than {}.".format(c, a),
            "{} is younger than {}.".format(b, a),
            "{} is the oldest of the three.".format(a),
            "{} is the youngest of the three.".format(c),
        ],
        "neutral": [
            "{} is older than {}.".format(a, d),
            "{} and {} are siblings.".format(a, c),
            "{} was born in {}.".format(b, town),
            "{} is younger than {}.".format(c, d),
            "{} is more than ten years older than {}.".format(a, c),
        ],
        "contradiction": [
            "{} is older than {}.".format(c, a),
            "{} is older than {}.".format(b, a),
            "{} is the oldest of the three.".format(c),
            "{} is younger than {}.".format(a, b),
        ],
    }


def shop_scene(rng: random.Random):
    town = rng.choice(TOWNS)
    shop, many, few = rng.choice(SHOPS)
    b = rng.randint(2, 4)
    a = rng.randint(b + 2, 9)
    street = rng.choice(STREETS)
    premise = "The {} on {} Street in {} sells {} kinds of {} but only {} kinds of {}.".format(
        shop, street, town, NUMBERS[a], many, NUMBERS[b], few)
    return premise, {
        "entailment": [
            "The {} in {} sells more kinds of {} than of {}.".format(shop, town, many, few),
            "The {} on {} Street sells {}.".format(shop, street, few),
            "You can buy {} in {}.".format(many, town),
            "The {} sells at least {} kinds of {}.".format(shop, NUMBERS[b], few),
        ],
        "neutral": [
            "The {} on {} Street opens at seven in the morning.".format(shop, street),
            "The {} is the oldest shop in {}.".format(shop, town),
            "The {} on {} Street is closed on Sundays.".format(shop, street),
            "The owner of the {} was born in {}.".format(shop, town),
            "The {} on {} Street also sells {}.".format(shop, street, "honey" if many != "honey" else "jam"),
        ],
        "contradiction": [
            "The {} on {} Street sells no {}.".format(shop, street, few),
            "The {} in {} sells more kinds of {} than of {}.".format(shop, town, few, many),
            "The {} on {} Street sells only one kind of {}.".format(shop, street, many),
            "Nowhere in {} sells {}.".format(town, many),
        ],
    }


SCENES = [craft_scene, journey_scene, animals_scene, novel_scene, ages_scene, shop_scene]


def build_splits() -> dict[str, list[dict[str, str]]]:
    rng = random.Random(SEED)
    seen: set[str] = set()  # premises, lower-cased: none repeats, within or across splits
    splits = {}
    for split, per_label in PER_LABEL.items():
        rows = []
        for label in LABELS:
            for k in range(per_label):
                scene = SCENES[k % len(SCENES)]  # every scene under every label, in turn
                for _attempt in range(1000):
                    premise, hypotheses = scene(rng)
                    if premise.lower() in seen:
                        continue
                    seen.add(premise.lower())
                    rows.append((premise, rng.choice(hypotheses[label]), label))
                    break
                else:
                    raise RuntimeError("could not generate a unique premise")
        rng.shuffle(rows)
        splits[split] = [
            {"id": "{}-{:04d}".format(split, i + 1), "premise": premise, "hypothesis": hypothesis, "label": label}
            for i, (premise, hypothesis, label) in enumerate(rows)
        ]
    check(splits)
    return splits


def check(splits: dict[str, list[dict[str, str]]]) -> None:
    premises = [r["premise"] for rows in splits.values() for r in rows]
    assert len(premises) == len(set(premises)), "a premise repeats"
    for split, rows in splits.items():
        ids = [r["id"] for r in rows]
        assert len(ids) == len(set(ids))
        counts = Counter(r["label"] for r in rows)
        assert [counts[label] for label in LABELS] == [PER_LABEL[split]] * len(LABELS), counts
        for r in rows:
            assert list(r) == ["id", "premise", "hypothesis", "label"]
            assert r["premise"] != r["hypothesis"]
            for key in ("premise", "hypothesis"):
                assert r[key] and "\n" not in r[key] and "\t" not in r[key]


def to_text(rows: list[dict[str, str]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


# ---------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------

def write_text(path: Path, text: str) -> None:
    """Write ``text`` as UTF-8 with ``\\n`` line ends on every platform."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)


def render(splits: dict[str, list[dict[str, str]]]) -> dict[str, str]:
    return {"{}.jsonl".format(split): to_text(rows) for split, rows in splits.items()}


def build() -> dict[str, str]:
    """File name -> exact text of every file of ptrun_nli/data/."""
    return render(build_splits())


def write(out_dir: Path | None = None) -> list[Path]:
    """Write build() into ``out_dir`` (default: ptrun_nli/data/); returns the paths."""
    out_dir = OUT_DIR if out_dir is None else Path(out_dir)
    paths = []
    for name, text in build().items():
        write_text(out_dir / name, text)
        paths.append(out_dir / name)
    return paths


def main(argv: list[str] | None = None) -> list[Path]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="folder to write into (default: %(default)s)")
    paths = write(parser.parse_args(argv).out)
    for path in paths:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        counts = Counter(r["label"] for r in rows)
        print("{}: {} rows, {} bytes ({})".format(path, len(rows), path.stat().st_size,
              ", ".join("{}={}".format(k, counts[k]) for k in LABELS)))
    return paths


if __name__ == "__main__":
    main()
