#!/usr/bin/env python3
"""Generate the sentiment demo data: plugins/demo/sentiment/{train,dev,test}.tsv.

``text<TAB>label`` with a header row, labels ``negative`` / ``positive`` (balanced). Short
reviews of products, films and restaurants, composed from the word lists below (no third-party
text), with contrast ("..., but ...") and negation so that single words do not decide the label.
Deterministic, independent of PYTHONHASHSEED: running it again rewrites the files
byte-identically (tests/test_demo_data.py checks that).

Usage::

    python3 tools/demo_data/sentiment.py [--out DIR]

Only the Python standard library is used.
"""

from __future__ import annotations

import random
import sys
from collections import Counter
from pathlib import Path

if not __package__:  # run as a script: make the `demo_data` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from demo_data import common  # noqa: E402
from demo_data.common import cap_first  # noqa: E402

OUT_DIR = common.DEMO_DIR / "sentiment"
SIZES = {"train": 600, "dev": 150, "test": 150}  # reviews
SEED = 20240611 + 2  # the demo data's base seed plus this dataset's offset

SENT_DOMAINS = {
    "product": {
        "objects": [("this phone", 0), ("these headphones", 1), ("the blender", 0),
                    ("this laptop", 0), ("the vacuum cleaner", 0), ("this kettle", 0),
                    ("the smartwatch", 0), ("these running shoes", 1), ("the coffee machine", 0),
                    ("this backpack", 0), ("the desk lamp", 0), ("this tablet", 0),
                    ("the air fryer", 0), ("these speakers", 1), ("the office chair", 0),
                    ("this camera", 0), ("the electric toothbrush", 0), ("this keyboard", 0)],
        "aspects": [("the build quality", 0), ("the design", 0), ("the setup", 0),
                    ("the instructions", 1), ("the customer support", 0),
                    ("the materials", 1), ("the delivery", 0), ("the packaging", 0),
                    ("the finish", 0), ("the controls", 1), ("the warranty service", 0),
                    ("the user manual", 0), ("the colour", 0), ("the craftsmanship", 0),
                    ("the returns process", 0)],
        "openers": ["Bought {obj} last month.", "I have been using {obj} for {n} weeks now.",
                    "Got {obj} as a gift.", "Ordered {obj} after reading a few reviews.",
                    "Picked up {obj} on sale."],
        "close_pos": ["Highly recommended.", "I would buy it again.", "Worth every penny.",
                      "Five stars from me.", "Very happy with this purchase.",
                      "Great value overall."],
        "close_neg": ["Save your money.", "I am sending it back.", "Avoid.",
                      "Would not buy again.", "A complete waste of money.",
                      "Returned it the next day."],
        "worth": ["not worth it", "not worth the money", "not worth the price"],
        "concession": ["not cheap", "a little pricey", "slow to arrive"],
    },
    "film": {
        "objects": [("this film", 0), ("the movie", 0), ("the sequel", 0),
                    ("this documentary", 0), ("the thriller", 0), ("this comedy", 0),
                    ("the new series", 0), ("this animated feature", 0), ("the remake", 0),
                    ("this period drama", 0), ("the horror film", 0), ("this musical", 0)],
        "aspects": [("the plot", 0), ("the acting", 0), ("the soundtrack", 0),
                    ("the dialogue", 0), ("the cinematography", 0), ("the ending", 0),
                    ("the pacing", 0), ("the special effects", 1), ("the characters", 1),
                    ("the script", 0), ("the lead performance", 0), ("the jokes", 1),
                    ("the visuals", 1), ("the supporting cast", 0), ("the costumes", 1)],
        "openers": ["Watched {obj} last night.", "Saw {obj} at the cinema on Saturday.",
                    "Finally caught {obj} on a streaming service.",
                    "Went to see {obj} with friends.", "Watched {obj} on a long flight."],
        "close_pos": ["Highly recommended.", "I would watch it again.", "Worth every minute.",
                      "Go and see it.", "One of the best of the year.", "A real treat."],
        "close_neg": ["Save your money.", "I almost walked out.", "Skip this one.",
                      "A complete waste of time.", "I nearly fell asleep.",
                      "Two hours I will never get back."],
        "worth": ["not worth it", "not worth the ticket price", "not worth your time"],
        "concession": ["a bit long", "slow to start", "hard to follow at first"],
    },
    "restaurant": {
        "objects": [("this place", 0), ("the restaurant", 0), ("this cafe", 0),
                    ("the new bistro", 0), ("this pizzeria", 0), ("the sushi bar", 0),
                    ("this bakery", 0), ("the steakhouse", 0), ("the noodle shop", 0),
                    ("this tapas bar", 0), ("the diner on the corner", 0), ("this curry house", 0)],
        "aspects": [("the service", 0), ("the food", 0), ("the pasta", 0),
                    ("the desserts", 1), ("the staff", 1), ("the atmosphere", 0),
                    ("the portions", 1), ("the wine list", 0), ("the fries", 1),
                    ("the coffee", 0), ("the soup", 0), ("the bread", 0),
                    ("the seafood", 0), ("the curry", 0), ("the music", 0)],
        "openers": ["We had dinner at {obj} on Friday.", "Went to {obj} for lunch with colleagues.",
                    "Tried {obj} for my birthday.", "Stopped by {obj} after work.",
                    "Booked a table at {obj} last weekend."],
        "close_pos": ["Highly recommended.", "We will definitely be back.", "Worth every penny.",
                      "Can't wait to return.", "Our new favourite spot.", "Five stars."],
        "close_neg": ["We won't be back.", "Avoid this place.", "Never again.",
                      "A complete waste of money.", "Not coming back.",
                      "Eat somewhere else."],
        "worth": ["not worth it", "not worth the money", "not worth the wait"],
        "concession": ["not cheap", "very busy", "hard to find"],
    },
}

POS_ADJ = ["excellent", "great", "superb", "impressive", "fantastic", "outstanding",
           "wonderful", "brilliant", "lovely", "first-rate", "top-notch", "amazing",
           "terrific", "good", "solid", "delightful", "faultless", "exceptional"]
NEG_ADJ = ["terrible", "awful", "poor", "disappointing", "dreadful", "mediocre", "horrible",
           "unimpressive", "subpar", "weak", "bad", "pathetic", "abysmal", "lousy",
           "forgettable", "underwhelming", "sloppy", "second-rate"]
INTENS = ["", "", "really ", "very ", "truly ", "absolutely ", "incredibly ", "genuinely ",
          "pretty ", "quite ", "extremely ", "surprisingly ", "simply "]
POS_VERB = ["I loved", "I really liked", "I enjoyed", "I was impressed by", "I adored"]
NEG_VERB = ["I hated", "I disliked", "I could not stand", "I was let down by",
            "I was annoyed by"]
NEG_MILD = ["bad", "disappointing", "a letdown", "overrated", "a problem"]


def build_splits() -> dict[str, list[tuple[str, str]]]:
    rng = random.Random(SEED)

    def be(plural: int) -> str:
        return "were" if plural else "was"

    def adj(label: str) -> str:
        return rng.choice(POS_ADJ if label == "positive" else NEG_ADJ)

    def clause(dom: dict, label: str, intens: bool = True, avoid: str = "") -> str:
        """``<aspect> was/were [intensifier] <adjective>``; ``avoid`` excludes an aspect."""
        asp, pl = rng.choice([a for a in dom["aspects"] if a[0] != avoid])
        return "{} {} {}{}".format(asp, be(pl), rng.choice(INTENS) if intens else "", adj(label))

    def clause_pair(dom: dict, label1: str, label2: str, intens1: bool) -> tuple[str, str]:
        """Two clauses about different aspects (and different adjectives)."""
        while True:
            a = clause(dom, label1, intens1)
            b = clause(dom, label2, True, avoid=a.split(" was ")[0].split(" were ")[0])
            if a.split(" ")[-1] != b.split(" ")[-1]:
                return a, b

    def opinion(dom: dict, label: str, obj_ref: tuple[str, int] | None = None) -> str:
        """A single sentence (no final full stop) with the given polarity.

        ``obj_ref`` overrides the reviewed object (e.g. a pronoun after an opener).
        """
        other = "negative" if label == "positive" else "positive"
        obj, opl = obj_ref or rng.choice(dom["objects"])
        r = rng.randrange(12)
        if r == 0:
            return cap_first(clause(dom, label))
        if r == 1:
            return cap_first("{} and {}".format(*clause_pair(dom, label, label, True)))
        if r == 2:  # contrastive, final clause decides
            return cap_first("{}, but {}".format(*clause_pair(dom, other, label, False)))
        if r == 3:
            return "Although {}, {}".format(*clause_pair(dom, other, label, False))
        if r == 4:
            return cap_first("{} {} {}{}".format(obj, be(opl), rng.choice(INTENS), adj(label)))
        if r == 5:
            verbs = POS_VERB if label == "positive" else NEG_VERB
            return "{} {}".format(rng.choice(verbs), rng.choice(dom["aspects"])[0])
        if r == 6:  # negation
            asp, pl = rng.choice(dom["aspects"])
            if label == "positive":
                return rng.choice([
                    cap_first("{} {} not bad at all".format(obj, be(opl))),
                    cap_first("{} {} not {} at all".format(asp, be(pl), rng.choice(NEG_MILD))),
                    cap_first("{} did not disappoint".format(obj)),
                    "I have no complaints about {}".format(asp),
                    "I honestly can't fault {}".format(asp),
                    cap_first("{} could not have been better".format(asp)),
                    "I was not disappointed by {} in the slightest".format(asp),
                ])
            return rng.choice([
                cap_first("{} {} {}".format(obj, be(opl), rng.choice(dom["worth"]))),
                "I would not recommend {} to anyone".format(obj),
                cap_first("{} {} not {} at all".format(asp, be(pl), rng.choice(["good", "great", "impressive", "pleasant"]))),
                "I was not impressed by {}".format(asp),
                cap_first("{} could not have been worse".format(asp)),
                cap_first("{} {} nothing special".format(obj, be(opl))),
                cap_first("{} did not live up to the hype".format(obj)),
            ])
        if r == 7:  # contrast with negation in the final clause
            if label == "positive":
                return cap_first("{}, but overall {} {} not bad at all".format(
                    clause(dom, other, False), obj, be(opl)))
            return cap_first("{}, but honestly {} {} {}".format(
                clause(dom, other, False), obj, be(opl), rng.choice(dom["worth"])))
        if r == 8:
            if label == "positive":
                return cap_first("{} {} {}, but {}".format(
                    obj, be(opl), rng.choice(dom["concession"]), clause(dom, label)))
            return cap_first("{} looked promising, but {}".format(obj, clause(dom, label)))
        if r == 9:
            if label == "positive":
                return "I expected very little from {}, but {}".format(obj, clause(dom, label))
            return "I expected a lot from {}, but {}".format(obj, clause(dom, label))
        if r == 10:
            word = rng.choice(["Overall", "All in all", "Honestly", "To be fair", "In short"])
            return "{}, {} {} {}{}".format(word, obj, be(opl), rng.choice(INTENS), adj(label))
        # r == 11: object + aspect
        return cap_first("{} {} {}, especially {}".format(
            obj, be(opl), adj(label), rng.choice(dom["aspects"])[0]))

    def review(label: str) -> str:
        dom = SENT_DOMAINS[rng.choice(sorted(SENT_DOMAINS))]
        r = rng.random()
        if r < 0.55:
            return opinion(dom, label) + "."
        if r < 0.8:
            close = dom["close_pos" if label == "positive" else "close_neg"]
            return "{}. {}".format(opinion(dom, label), rng.choice(close))
        obj, opl = rng.choice(dom["objects"])
        opener = rng.choice(dom["openers"]).format(obj=obj, n=rng.choice(["two", "three", "six"]))
        pronoun = ("they", 1) if opl else ("it", 0)
        return "{} {}.".format(cap_first(opener), cap_first(opinion(dom, label, pronoun)))

    seen: set[str] = set()
    splits = {}
    for split, size in SIZES.items():
        labels = ["positive"] * (size // 2) + ["negative"] * (size - size // 2)
        rng.shuffle(labels)
        rows = []
        for label in labels:
            for _attempt in range(1000):
                text = review(label)
                if text.lower() in seen:
                    continue
                seen.add(text.lower())
                rows.append((text, label))
                break
            else:
                raise RuntimeError("could not generate a unique review")
        splits[split] = rows
    check(splits)
    return splits


def check(splits: dict[str, list[tuple[str, str]]]) -> None:
    texts = [t for rows in splits.values() for t, _ in rows]
    assert len(texts) == len(set(texts)), "duplicate sentiment rows"
    for split, rows in splits.items():
        counts = Counter(l for _, l in rows)
        assert set(counts) == {"negative", "positive"}, counts
        assert abs(counts["positive"] - counts["negative"]) <= 0.1 * len(rows), counts
        for text, _ in rows:
            assert "\t" not in text and "\n" not in text and "\r" not in text
            assert '"' not in text and text == text.strip() and "  " not in text


def to_text(rows: list[tuple[str, str]]) -> str:
    return "text\tlabel\n" + "".join("{}\t{}\n".format(t, l) for t, l in rows)


# ---------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------

def render(splits: dict[str, list[tuple[str, str]]]) -> dict[str, str]:
    return {"{}.tsv".format(split): to_text(rows) for split, rows in splits.items()}


def report(splits: dict[str, list[tuple[str, str]]]) -> list[str]:
    lines = []
    for split, rows in splits.items():
        counts = Counter(l for _, l in rows)
        lines.append("sentiment/{}.tsv: {} rows (negative={}, positive={})".format(
            split, len(rows), counts["negative"], counts["positive"]))
    return lines


build, write, main = common.generator(OUT_DIR, build_splits, render, report, __doc__)


if __name__ == "__main__":
    main()
