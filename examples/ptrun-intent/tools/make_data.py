#!/usr/bin/env python3
"""Generate the demo data of the example plugin: ptrun_intent/data/{train,dev,test}.jsonl.

``{"id", "text", "intent"}`` a line: customer-service messages to an invented online shop,
balanced over the 8 intents, composed from the templates and word lists below (no third-party
text). Deterministic, independent of PYTHONHASHSEED: running it again rewrites the files
byte-identically (ptrun's tests/test_demo_data.py checks that).

This script belongs to the example package and needs nothing else (only the Python standard
library, not ptrun): copy it along with the package.

Usage::

    python3 examples/ptrun-intent/tools/make_data.py [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from pathlib import Path

OUT_DIR = Path(__file__).resolve().parents[1] / "ptrun_intent" / "data"
PER_LABEL = {"train": 40, "dev": 10, "test": 10}  # messages per intent
SEED = 20240611 + 3  # the base seed of ptrun's demo data plus this dataset's offset

INTENT_TEMPLATES = {
    "order_status": [
        "Where is my order {order}?",
        "Can you tell me when my order {order} will arrive?",
        "I ordered a {item} {ago} and it still hasn't shipped. What's the status?",
        "Has my order {order} been dispatched yet?",
        "What is the current status of order {order}?",
        "The tracking page for order {order} hasn't updated in {n} days. Is the package still on its way?",
        "Could you check whether my {item} has shipped?",
        "When can I expect delivery of the {item} I ordered {ago}?",
        "Is order {order} out for delivery today?",
        "I'd like an update on my recent order, number {order}.",
        "The estimated delivery date for order {order} has passed. Where is it now?",
        "Can I get a tracking number for my {item} order?",
        "How long until my order {order} gets here?",
        "Just checking in on order {order}. Has it left the warehouse yet?",
        "My {item} was supposed to arrive {ago}. Any news on where it is?",
    ],
    "cancel_order": [
        "Please cancel my order {order}.",
        "I'd like to cancel the {item} I ordered {ago}.",
        "I changed my mind, can you cancel order {order} before it ships?",
        "How do I cancel an order I placed {ago}?",
        "I accidentally ordered the {item} twice, please cancel one of the orders.",
        "Is it still possible to cancel order {order}?",
        "Cancel order {order} please, I no longer need it.",
        "I placed order {order} by mistake and want to cancel it.",
        "Can you stop order {order} from being shipped? I want to cancel it.",
        "I found the {item} cheaper elsewhere, so please cancel my order.",
        "I need to cancel my whole order, number {order}.",
        "Please don't send order {order}, I want to cancel the purchase.",
        "Could you cancel the {item} from order {order} and keep the rest?",
        "I don't want the {item} anymore. How can I cancel before it is dispatched?",
    ],
    "refund_request": [
        "I returned the {item} {ago} and still haven't received my refund.",
        "I'd like a refund for order {order}.",
        "The {item} arrived broken, I want my money back.",
        "How long does it take to get a refund for a returned item?",
        "Can I get a refund for the {item}? It is not what I expected.",
        "Please refund the {amount} you charged me for order {order}.",
        "You sent me the wrong {item} and I would like a full refund.",
        "When will the refund for order {order} appear on my card?",
        "I want to return the {item} and get my money back.",
        "My refund for order {order} was approved {ago} but I haven't seen the money yet.",
        "Is it possible to get a partial refund for the damaged {item}?",
        "I was promised a refund for order {order}, please process it.",
        "The {item} is missing parts, so I'd like to be reimbursed.",
    ],
    "change_address": [
        "I need to change the delivery address for order {order}.",
        "Can I update my shipping address to {address}?",
        "I moved recently, please send order {order} to {address} instead.",
        "I entered the wrong address for my {item} order. Can you fix it?",
        "Please deliver order {order} to my work address at {address}.",
        "How do I change the address on an order that has already been placed?",
        "The apartment number on order {order} is wrong, it should be {apt}.",
        "Could you redirect my package to {address}?",
        "I won't be home next week, can order {order} go to {address}?",
        "Is it too late to change the shipping address for order {order}?",
        "Please update the address on my account to {address}.",
        "The postcode on order {order} is incorrect. Can I change it?",
        "I'd like my {item} shipped to {address} rather than my home address.",
    ],
    "product_question": [
        "Is the {item} available in {color}?",
        "Does the {item} come with a warranty?",
        "What are the dimensions of the {item}?",
        "When will the {item} be back in stock?",
        "What material is the {item} made of?",
        "Is the {item} suitable for beginners?",
        "How much does the {item} weigh?",
        "Do you sell replacement parts for the {item}?",
        "What is the difference between the {item} and the {item2}?",
        "Does the {item} come with instructions in {lang}?",
        "Is the {item} you sell new or refurbished?",
        "What's included in the box with the {item}?",
        "Can the {item} be gift wrapped?",
        "Is the {color} {item} the same size as the other colours?",
    ],
    "payment_problem": [
        "My card was declined when I tried to pay for the {item}.",
        "I was charged twice for order {order}.",
        "The checkout page keeps giving me an error when I try to pay with my {payment}.",
        "Why was my payment for order {order} rejected?",
        "I can't complete the payment, the page just freezes.",
        "My {payment} was charged but I never got an order confirmation.",
        "The discount code isn't being applied at checkout.",
        "I paid {amount} but the order still shows as unpaid.",
        "Your site won't accept my {payment}. Is there a problem on your end?",
        "There is an unknown charge of {amount} from your shop on my statement.",
        "I keep getting a payment failed message when I check out.",
        "The total I was charged for order {order} is higher than the price shown.",
        "The payment for my {item} went through twice.",
    ],
    "complaint": [
        "I'm very unhappy with the service I received.",
        "Your delivery driver left my {item} out in the rain.",
        "This is the third time my order has arrived late, it's unacceptable.",
        "The quality of the {item} is really poor for the price.",
        "I'm disappointed that nobody replied to my emails for {n} days.",
        "The packaging for order {order} was torn and dirty when it arrived.",
        "Your customer service has been rude and unhelpful.",
        "I waited at home all day and the courier never showed up.",
        "The {item} looks nothing like the pictures on your website.",
        "I want to make a formal complaint about how order {order} was handled.",
        "Honestly, the whole experience with your shop has been frustrating.",
        "The {item} stopped working after {n} days, which is not acceptable.",
        "I am fed up with the constant delays on every order I place.",
    ],
    "speak_to_human": [
        "Can I speak to a real person?",
        "I'd like to talk to a human agent.",
        "Please connect me with a member of your support staff.",
        "Is there a phone number where I can reach someone?",
        "I don't want to chat with a bot, get me a person.",
        "Transfer me to an agent, please.",
        "Can someone from your support team call me back?",
        "I need to talk to a manager about order {order}.",
        "Is there anyone available to chat live right now?",
        "This bot isn't helping, I want to speak to someone.",
        "How can I get in touch with a human representative?",
        "Could a member of staff contact me about my {item}?",
        "I would prefer to discuss order {order} with a real person.",
    ],
}

INTENT_PREFIXES = ["", "", "", "Hi.", "Hello!", "Hi there.", "Good morning.", "Hey!",
                   "Good afternoon.", "Hello, hope you're well."]
INTENT_SUFFIXES = ["", "", "", "Thanks.", "Thank you!", "Thanks in advance.", "Many thanks.",
                   "Cheers.", "I appreciate your help.", "Thank you for your time."]
ITEMS = ["wireless headphones", "coffee grinder", "yoga mat", "winter jacket", "desk lamp",
         "kitchen scale", "phone case", "pair of rain boots", "board game", "electric toothbrush",
         "laptop stand", "water bottle", "wool scarf", "bluetooth speaker", "blender",
         "office chair", "camping tent", "baby monitor", "cast iron pan", "hiking backpack",
         "smart watch", "set of bed sheets", "standing desk", "robot vacuum"]
AGO = ["last week", "three days ago", "on Monday", "yesterday", "two weeks ago",
       "earlier today", "last Friday", "ten days ago", "over a week ago"]
STREETS = ["Maple", "Harbour", "Station", "Mill", "Church", "Oak", "Queen", "Victoria",
           "Willow", "Park", "High", "Orchard", "River", "Hill", "Chestnut"]
STREET_KINDS = ["Street", "Road", "Avenue", "Lane", "Close", "Drive"]
COLORS = ["black", "navy blue", "red", "grey", "white", "green", "beige", "dark brown"]
LANGS = ["Spanish", "French", "German", "Italian", "Portuguese", "Dutch", "Polish"]
PAYMENTS = ["credit card", "debit card", "prepaid card", "company credit card", "gift card"]


def build_splits() -> dict[str, list[dict[str, str]]]:
    rng = random.Random(SEED)

    def order_no() -> str:
        r = rng.random()
        if r < 0.5:
            return "#{}".format(rng.randint(10000, 999999))
        if r < 0.8:
            return str(rng.randint(10000, 999999))
        return "{}{}-{}".format(rng.choice("ABCDKLMRSTW"), rng.choice("ABCDKLMRSTW"), rng.randint(1000, 99999))

    def fill(template: str) -> str:
        item = rng.choice(ITEMS)
        item2 = rng.choice([x for x in ITEMS if x != item])
        values = {
            "order": order_no(),
            "item": item,
            "item2": item2,
            "ago": rng.choice(AGO),
            "n": rng.choice(["two", "three", "four", "five", "six", "ten"]),
            "amount": "${}.{}".format(rng.randint(8, 420), rng.choice(["00", "49", "95", "99"])),
            "address": "{} {} {}".format(rng.randint(2, 240), rng.choice(STREETS), rng.choice(STREET_KINDS)),
            "apt": "Apt {}{}".format(rng.randint(1, 24), rng.choice("ABCDEF")),
            "color": rng.choice(COLORS),
            "lang": rng.choice(LANGS),
            "payment": rng.choice(PAYMENTS),
        }
        body = template.format(**values)
        parts = [rng.choice(INTENT_PREFIXES), body, rng.choice(INTENT_SUFFIXES)]
        return " ".join(p for p in parts if p)

    intents = list(INTENT_TEMPLATES)
    seen: set[str] = set()
    splits = {}
    for split, per_label in PER_LABEL.items():
        rows = []
        for intent in intents:
            templates = INTENT_TEMPLATES[intent]
            for _k in range(per_label):
                for _attempt in range(1000):
                    text = fill(rng.choice(templates))
                    if text.lower() in seen:
                        continue
                    seen.add(text.lower())
                    rows.append((text, intent))
                    break
                else:
                    raise RuntimeError("could not generate a unique intent message")
        rng.shuffle(rows)
        splits[split] = [
            {"id": "{}-{:04d}".format(split, i + 1), "text": text, "intent": intent}
            for i, (text, intent) in enumerate(rows)
        ]
    check(splits)
    return splits


def check(splits: dict[str, list[dict[str, str]]]) -> None:
    texts = [r["text"] for rows in splits.values() for r in rows]
    assert len(texts) == len(set(texts)), "duplicate intent rows"
    for split, rows in splits.items():
        ids = [r["id"] for r in rows]
        assert len(ids) == len(set(ids))
        counts = Counter(r["intent"] for r in rows)
        assert set(counts) == set(INTENT_TEMPLATES), counts
        assert max(counts.values()) - min(counts.values()) <= 0.1 * len(rows) / len(counts) + 1
        for r in rows:
            assert list(r) == ["id", "text", "intent"]
            assert "\n" not in r["text"] and "\t" not in r["text"]


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
    """File name -> exact text of every file of ptrun_intent/data/."""
    return render(build_splits())


def write(out_dir: Path | None = None) -> list[Path]:
    """Write build() into ``out_dir`` (default: ptrun_intent/data/); returns the paths."""
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
        counts = Counter(r["intent"] for r in rows)
        print("{}: {} rows, {} bytes ({})".format(path, len(rows), path.stat().st_size,
              ", ".join("{}={}".format(k, counts[k]) for k in INTENT_TEMPLATES)))
    return paths


if __name__ == "__main__":
    main()
