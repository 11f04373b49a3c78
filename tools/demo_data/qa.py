#!/usr/bin/env python3
"""Generate the QA demo data: plugins/demo/qa/{train,dev,test}.json.

SQuAD layout (``{"version", "data": [{"title", "paragraphs": [{"context", "qas"}]}]}``) for
extractive QA: invented paragraphs about fictional companies, towns and people, each with
questions whose answers are spans of it. Composed from the word lists below and the name lists
in common.py (no third-party text). Deterministic, independent of PYTHONHASHSEED: running it
again rewrites the files byte-identically (tests/test_demo_data.py checks that).

Usage::

    python3 tools/demo_data/qa.py [--out DIR]

Only the Python standard library is used.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

if not __package__:  # run as a script: make the `demo_data` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from demo_data import common  # noqa: E402
from demo_data.common import FIRST_NAMES, LAST_NAMES, ORG_STEMS, ORG_SUFFIXES  # noqa: E402

OUT_DIR = common.DEMO_DIR / "qa"
SIZES = {"train": 150, "dev": 30, "test": 30}  # paragraphs; ~4 questions each
SEED = 20240611 + 4  # the demo data's base seed plus this dataset's offset: the paragraphs
NAMES_SEED = SEED + 1  # the names

# Short invented paragraphs about fictional companies, towns and people, with questions
# whose answers are spans of the paragraph. Each paragraph holds distractors of the same type
# (two people, two or three years, several towns), so a model has to read the question.

TOWN_HEADS = ["Brack", "Elm", "Thorn", "Ash", "Marl", "Wick", "Fen", "Holl", "Stan", "Cor",
              "Dun", "Pen", "Ros", "Kel", "Lind", "Sel", "Tarn", "Wel", "Hart", "Bram", "Oster",
              "Vell", "Grim", "Lud", "Mar", "Quen", "Ald", "Birch", "Cald", "Drym"]
TOWN_TAILS = ["ford", "worth", "by", "stead", "mere", "dale", "wick", "haven", "holm", "ton",
              "bridge", "field", "moor", "combe", "gate", "ham"]
RIVER_NAMES = ["Alder", "Brenn", "Coly", "Dorran", "Eskel", "Frome", "Glaven", "Hesk", "Isbourne",
               "Kennet", "Lathe", "Mardle", "Nene", "Ouzel", "Pinn", "Rother", "Sence", "Tove",
               "Ure", "Wendle", "Yeo", "Zell"]
PROVINCES = ["Varnholt", "Ostrey", "Calder Vale", "Morwen", "Lessing", "Tallow Downs", "Esterby",
             "North Fenland", "Grennock", "Aldmoor", "Sorrel Coast", "Upper Wend", "Harrowgate",
             "Kestrel Hills", "Lowmarch", "Dunholt"]
FESTIVALS = ["Lantern Festival", "Apple Fair", "Harvest Market", "Boat Race", "Cheese Fair",
             "Kite Festival", "Winter Market", "Music Week", "Flower Parade", "Pie Contest",
             "Horse Fair", "Candle Night", "Wool Fair", "Regatta", "Bonfire Night", "Honey Show"]
QA_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December"]
INDUSTRIES = {
    "furniture": ["oak dining tables", "folding chairs", "walnut bookcases", "garden benches"],
    "bicycle": ["folding bicycles", "cargo bikes", "racing frames", "electric tricycles"],
    "textile": ["wool blankets", "linen shirts", "felt hats", "striped towels"],
    "toy": ["wooden trains", "puzzle boxes", "tin robots", "rag dolls"],
    "glass": ["stained windows", "blown vases", "lamp shades", "drinking glasses"],
    "clock": ["cuckoo clocks", "pocket watches", "tower clocks", "brass alarm clocks"],
    "chocolate": ["dark truffles", "hazelnut bars", "cocoa biscuits", "mint pralines"],
    "paper": ["recycled notebooks", "watercolour paper", "paper lanterns", "wrapping paper"],
    "ceramics": ["blue teapots", "stoneware bowls", "garden pots", "glazed tiles"],
    "software": ["accounting programs", "route planners", "booking systems", "weather apps"],
    "boat": ["rowing boats", "canal barges", "sailing dinghies", "fishing skiffs"],
    "bakery": ["rye loaves", "cinnamon rolls", "oat crackers", "fruit cakes"],
}
QA_PROFESSIONS = ["painter", "architect", "botanist", "composer", "engineer", "novelist",
                  "astronomer", "sculptor", "chemist", "cartographer", "photographer", "poet"]
QA_SUBJECTS = ["mathematics", "medicine", "law", "music", "history", "chemistry", "philosophy",
               "architecture", "botany", "economics", "geology", "astronomy"]
WORK_ADJ = ["Silent", "Northern", "Hidden", "Golden", "Broken", "Quiet", "Distant", "Winter",
            "Painted", "Last", "Hollow", "Bright"]
WORK_NOUN = ["Harbour", "Orchard", "Bridge", "Lighthouse", "Garden", "Meadow", "Tower", "River",
             "Station", "Island", "Market", "Mill"]

QA_QUESTIONS_PER_PARAGRAPH = 4


def possessive(name: str) -> str:
    return name + ("'" if name.endswith("s") else "'s")


class QaNames:
    """Draws fictional names; subjects (the paragraph's title entity) never repeat."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.subjects: set[str] = set()

    def town(self) -> str:
        return self.rng.choice(TOWN_HEADS) + self.rng.choice(TOWN_TAILS)

    def person(self) -> str:
        return "{} {}".format(self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES))

    def company(self) -> str:
        return "{} {}".format(self.rng.choice(ORG_STEMS), self.rng.choice(ORG_SUFFIXES))

    def subject(self, make) -> str:
        for _ in range(1000):
            name = make()
            if name not in self.subjects:
                self.subjects.add(name)
                return name
        raise RuntimeError("ran out of unique QA subjects")

    def distinct(self, make, n: int, avoid=()) -> list[str]:
        out: list[str] = []
        while len(out) < n:
            value = make()
            if value not in out and value not in avoid and not any(value in a or a in value for a in avoid):
                out.append(value)
        return out


def qa_company(rng: random.Random, names: QaNames):
    c = names.subject(names.company)
    industry = rng.choice(sorted(INDUSTRIES))
    product = rng.choice(INDUSTRIES[industry])
    town = names.town()
    founder, ceo = names.distinct(names.person, 2)
    y1 = rng.randrange(1850, 1990)
    y2 = rng.randrange(max(y1 + 5, 1960), 2024)
    staff = str(rng.choice(range(40, 4000, 10)))
    intro = rng.choice(["{c} is a {i} company based in {t}.", "Based in {t}, {c} is a {i} company."])
    rest = [
        rng.choice(["It was founded in {y1} by {f}.", "{f} founded the company in {y1}.",
                    "The firm was established by {f} in {y1}."]),
        rng.choice(["Today it employs about {n} people.", "The company has around {n} employees."]),
        rng.choice(["It is best known for its {p}.", "Its {p} are what it is best known for."]),
        rng.choice(["Since {y2}, the company has been led by {e}.", "{e} has been its chief executive since {y2}."]),
    ]
    rng.shuffle(rest)
    text = " ".join([intro] + rest).format(c=c, i=industry, t=town, f=founder, e=ceo, y1=y1, y2=y2, n=staff, p=product)
    questions = [
        (["Who founded {c}?", "Who established {c}?", "By whom was {c} founded?"], founder),
        (["In which year was {c} founded?", "When was {c} founded?", "When was {c} established?"], str(y1)),
        (["Where is {c} based?", "In which town is {c} based?"], town),
        (["How many people does {c} employ?", "How many employees does {c} have?"], staff),
        (["What is {c} best known for?", "What are {cs} best-known products?"], product),
        (["Who leads {c}?", "Who is the chief executive of {c}?"], ceo),
        (["Since when has {e} led {c}?", "Since which year has {c} been led by {e}?"], str(y2)),
        (["What kind of company is {c}?"], industry + " company"),
    ]
    return c, text, [(rng.choice(q).format(c=c, cs=possessive(c), e=ceo), a) for q, a in questions]


def qa_town(rng: random.Random, names: QaNames):
    t = names.subject(names.town)
    river = rng.choice(RIVER_NAMES) + " River"
    province = rng.choice(PROVINCES)
    population = "{:,}".format(rng.randrange(1200, 90000, 10))
    y1, y2 = rng.randrange(900, 1800), rng.randrange(1990, 2024)
    festival = rng.choice(FESTIVALS)
    month = rng.choice(QA_MONTHS)
    mayor = names.person()
    intro = rng.choice(["{t} is a small town on the {r} in the province of {g}.",
                        "The town of {t} lies on the {r}, in the province of {g}."])
    rest = [
        rng.choice(["It has a population of {n}.", "About {n} people live there."]),
        rng.choice(["{t} was first mentioned in records in {y1}.",
                    "The first written record of the town dates from {y1}."]),
        rng.choice(["The town is famous for its {fe}, held every {m}.", "Every {m}, {t} hosts its famous {fe}."]),
        rng.choice(["Its mayor, {p}, was elected in {y2}.", "{p} has been mayor since {y2}."]),
    ]
    rng.shuffle(rest)
    text = " ".join([intro] + rest).format(t=t, r=river, g=province, n=population, y1=y1, y2=y2,
                                           fe=festival, m=month, p=mayor)
    questions = [
        (["On which river does {t} lie?", "Which river flows through {t}?"], river),
        (["In which province is {t}?", "Which province is {t} in?"], province),
        (["What is the population of {t}?", "How many people live in {t}?"], population),
        (["When was {t} first mentioned in records?", "In which year was {t} first recorded?"], str(y1)),
        (["What is {t} famous for?", "Which festival is {t} known for?"], festival),
        (["When is the {fe} of {t} held?", "In which month does {t} hold its {fe}?"], month),
        (["Who is the mayor of {t}?", "Who has been mayor of {t} since {y2}?"], mayor),
        (["Since when has {p} been mayor of {t}?", "When did {p} become mayor of {t}?"], str(y2)),
    ]
    return t, text, [(rng.choice(q).format(t=t, fe=festival, p=mayor, y2=y2), a) for q, a in questions]


def qa_person(rng: random.Random, names: QaNames):
    p = names.subject(names.person)
    last = p.split(" ", 1)[1]
    profession = rng.choice(QA_PROFESSIONS)
    born, uni, moved = names.distinct(names.town, 3)
    y1 = rng.randrange(1800, 1990)
    y2 = y1 + rng.randrange(22, 70)
    subject = rng.choice(QA_SUBJECTS)
    work = "The {} {}".format(rng.choice(WORK_ADJ), rng.choice(WORK_NOUN))
    intro = rng.choice(["{p} is {a} {pr} who was born in {b} in {y1}.", "Born in {b} in {y1}, {p} is {a} {pr}."])
    middle = rng.choice(["{l} studied {s} at the University of {u}.",
                         "At the University of {u}, {l} studied {s}."])
    rest = [
        rng.choice(["After graduating, {l} moved to {mv}.", "Later {l} settled in {mv}."]),
        rng.choice(["{ls} best-known work, {w}, appeared in {y2}.",
                    "{w}, which appeared in {y2}, is {ls} best-known work."]),
    ]
    rng.shuffle(rest)
    text = " ".join([intro, middle] + rest).format(p=p, l=last, ls=possessive(last), pr=profession, a="an" if profession[0] in "aeiou" else "a",
                                                   b=born, u=uni, mv=moved,
                                                   y1=y1, y2=y2, s=subject, w=work)
    questions = [
        (["Where was {p} born?", "In which town was {p} born?"], born),
        (["When was {p} born?", "In which year was {p} born?"], str(y1)),
        (["What did {p} study?", "Which subject did {p} study?"], subject),
        (["Where did {p} study?", "At which university did {p} study?"], "University of " + uni),
        (["Where did {p} move after graduating?", "In which town did {p} settle later?"], moved),
        (["What is {ps} best-known work?", "Which work is {p} best known for?"], work),
        (["When did {w} appear?", "In which year did {w} appear?"], str(y2)),
        (["What is {ps} profession?", "What does {p} do for a living?"], profession),
    ]
    return p, text, [(rng.choice(q).format(p=p, ps=possessive(p), w=work), a) for q, a in questions]


QA_KINDS = [qa_company, qa_town, qa_person]


def build_splits() -> dict[str, dict]:
    rng = random.Random(SEED)
    names = QaNames(random.Random(NAMES_SEED))
    splits = {}
    for split, size in SIZES.items():
        articles = []
        n = 0
        for k in range(size):
            title, context, qas = QA_KINDS[k % len(QA_KINDS)](rng, names)
            # Only answers that occur exactly once (not also inside another word, as "architect"
            # in "architecture"), so that every offset is unambiguous.
            qas = [(q, a) for q, a in qas if context.count(a) == 1]
            chosen = rng.sample(qas, QA_QUESTIONS_PER_PARAGRAPH)
            items = []
            for question, answer in chosen:
                n += 1
                items.append({
                    "id": "{}-{:04d}".format(split, n),
                    "question": question,
                    "answers": [{"text": answer, "answer_start": context.index(answer)}],
                })
            articles.append({"title": title, "paragraphs": [{"context": context, "qas": items}]})
        splits[split] = {"version": "ptrun-demo-1", "data": articles}
    check(splits)
    return splits


def check(splits: dict[str, dict]) -> None:
    titles = [a["title"] for data in splits.values() for a in data["data"]]
    assert len(titles) == len(set(titles)), "a QA subject repeats"
    for data in splits.values():
        for article in data["data"]:
            for paragraph in article["paragraphs"]:
                ctx = paragraph["context"]
                for qa in paragraph["qas"]:
                    for ans in qa["answers"]:
                        assert ctx[ans["answer_start"]:ans["answer_start"] + len(ans["text"])] == ans["text"]


def to_text(data: dict) -> str:
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------

def render(splits: dict[str, dict]) -> dict[str, str]:
    return {"{}.json".format(split): to_text(data) for split, data in splits.items()}


def report(splits: dict[str, dict]) -> list[str]:
    return ["qa/{}.json: {} paragraphs, {} questions".format(
        split, len(data["data"]), sum(len(a["paragraphs"][0]["qas"]) for a in data["data"]))
        for split, data in splits.items()]


build, write, main = common.generator(OUT_DIR, build_splits, render, report, __doc__)


if __name__ == "__main__":
    main()
