#!/usr/bin/env python3
"""Generate the dialogue demo data: plugins/demo/dialogue/{train,dev,test}.jsonl.

Short customer-service and small-talk conversations between a user and the help desk of an
invented shop, composed from the word lists below (no third-party text). Each scenario answers
in a fixed style that repeats the details the user gave, so a model can learn it from a few
dozen dialogues. Deterministic: running it again rewrites the files byte-identically
(tests/test_demo_data.py checks that).

One JSON object a line::

    {"id", "persona", "messages": [{"role": "user"|"assistant", "content"}, ...]}

Usage::

    python3 tools/demo_data/dialogue.py [--out DIR]

Only the Python standard library is used.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

if not __package__:  # run as a script: make the `demo_data` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from demo_data import common  # noqa: E402

OUT_DIR = common.DEMO_DIR / "dialogue"
#: Small on purpose: `ptrun dialogue` fine-tunes SmolLM2 on train for one epoch on a CPU.
SIZES = {"train": 48, "dev": 12, "test": 12}
SEED = 20240917

SHOP = "Brightwater Outfitters"
PERSONA = f"I work at the help desk of {SHOP}, a shop for outdoor gear. I keep my answers short and friendly."

NAMES = ["Ada", "Bruno", "Carmen", "Dmitri", "Elif", "Farah", "Gustav", "Hana", "Ivo", "Jonas",
         "Kira", "Lars", "Mei", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq"]
ITEMS = ["tent", "sleeping bag", "rain jacket", "backpack", "camping stove", "water bottle",
         "hiking jacket", "headlamp", "compass", "fleece sweater", "map case", "thermos"]
COLOURS = ["red", "blue", "green", "grey", "orange", "black", "yellow"]
SIZES_CLOTHING = ["small", "medium", "large"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
TOWNS = ["Alderford", "Bramblecourt", "Coldharbour", "Dunmere", "Eastwick", "Fernhill", "Glenrock", "Highbury"]
STREETS = ["Mill Lane", "Birch Road", "Station Street", "Harbour Way", "Orchard Close", "Quarry Hill"]
OPENING = [("9 am", "6 pm"), ("8 am", "5 pm"), ("10 am", "7 pm"), ("9 am", "8 pm")]
ACTIVITIES = [("a hike", "the hills"), ("a bike ride", "the river"), ("a picnic", "the park"),
              ("a swim", "the lake"), ("a walk", "the forest"), ("some climbing", "the cliffs")]
WEATHER = ["sunny", "windy", "rainy", "cloudy", "warm", "cold"]
GREETINGS = ["Hi", "Hello", "Good morning", "Hey there"]
THANKS = ["Thanks!", "Thank you.", "Great, thanks a lot.", "Perfect, thank you!"]
GOODBYES = ["You're welcome! Have a great day.", "Happy to help. Enjoy your day!",
            "Any time. Have a nice day!"]


def order_status(rng: random.Random) -> list[str]:
    number, day = rng.randint(1000, 9999), rng.choice(DAYS)
    turns = [f"{rng.choice(GREETINGS)}, where is my order {number}?",
             f"Order {number} has left our warehouse and should arrive on {day}."]
    if rng.random() < 0.6:
        street, town, house = rng.choice(STREETS), rng.choice(TOWNS), rng.randint(2, 90)
        turns += [f"Can you send it to {house} {street}, {town} instead?",
                  f"Done! Order {number} will now go to {house} {street}, {town}."]
    if rng.random() < 0.5:
        turns += [rng.choice(THANKS), rng.choice(GOODBYES)]
    return turns


def returns(rng: random.Random) -> list[str]:
    item, days = rng.choice(ITEMS), rng.choice([14, 30, 60])
    turns = [f"I would like to return the {item} I bought last week.",
             f"Sorry the {item} did not work out. You can return it within {days} days, and I have emailed you a return label."]
    if rng.random() < 0.6:
        price = rng.randint(12, 240)
        turns += [f"Will I get the {price} dollars back?",
                  f"Yes, the {price} dollars go back to your card within five days of the {item} reaching us."]
    return turns


def opening_hours(rng: random.Random) -> list[str]:
    town, (start, end) = rng.choice(TOWNS), rng.choice(OPENING)
    turns = [f"When is your {town} shop open?",
             f"Our {town} shop is open from {start} to {end}, Monday to Saturday."]
    if rng.random() < 0.5:
        turns += ["And on Sunday?", f"On Sunday the {town} shop is closed, but our website is always open."]
    turns += [rng.choice(THANKS), rng.choice(GOODBYES)]
    return turns


def stock(rng: random.Random) -> list[str]:
    item, colour, size = rng.choice(ITEMS), rng.choice(COLOURS), rng.choice(SIZES_CLOTHING)
    count = rng.randint(2, 9)
    turns = [f"Do you have the {item} in {colour}, size {size}?",
             f"Yes, we have {count} of the {colour} {item} in size {size} in stock."]
    if rng.random() < 0.5:
        turns += ["Can you keep one for me?", f"Of course. One {colour} {item} is waiting for you at the counter until Friday."]
    return turns


def introduction(rng: random.Random) -> list[str]:
    name = rng.choice(NAMES)
    turns = [f"{rng.choice(GREETINGS)}, my name is {name}.",
             f"Nice to meet you, {name}! How can I help you today?"]
    item = rng.choice(ITEMS)
    turns += [f"I am looking for a good {item}.",
              f"We have several, {name}. Tell me what you need the {item} for and I will suggest one."]
    return turns


def small_talk(rng: random.Random) -> list[str]:
    weather, (activity, place) = rng.choice(WEATHER), rng.choice(ACTIVITIES)
    turns = [f"It is so {weather} today.",
             f"It really is {weather}! Do you have plans for the day?",
             f"I am going for {activity} near {place}.",
             f"That sounds lovely. Enjoy {activity} near {place}!"]
    return turns


def password(rng: random.Random) -> list[str]:
    name = rng.choice(NAMES).lower()
    domain = rng.choice(["example.com", "example.org", "example.net"])
    return [f"I forgot the password of my account {name}@{domain}.",
            f"No problem. I have sent a reset link to {name}@{domain}; it works for one hour."]


SCENARIOS = [order_status, returns, opening_hours, stock, introduction, small_talk, password]


def dialogues(split: str, count: int, rng: random.Random) -> list[dict]:
    rows = []
    for i in range(count):
        turns = SCENARIOS[i % len(SCENARIOS)](rng)  # every scenario in every split
        messages = [{"role": "user" if k % 2 == 0 else "assistant", "content": t} for k, t in enumerate(turns)]
        rows.append({"id": f"{split}-{i + 1:03d}", "persona": PERSONA, "messages": messages})
    rng.shuffle(rows)
    return rows


def build_splits() -> dict[str, list[dict]]:
    rng = random.Random(SEED)
    return {split: dialogues(split, count, rng) for split, count in SIZES.items()}


# ---------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------

def render(splits: dict[str, list[dict]]) -> dict[str, str]:
    return {f"{split}.jsonl": common.jsonl(rows) for split, rows in splits.items()}


def report(splits: dict[str, list[dict]]) -> list[str]:
    return [f"dialogue/{split}.jsonl: {len(rows)} dialogues, {sum(len(r['messages']) for r in rows)} messages"
            for split, rows in splits.items()]


build, write, main = common.generator(OUT_DIR, build_splits, render, report, __doc__)


if __name__ == "__main__":
    main()
