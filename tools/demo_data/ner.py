#!/usr/bin/env python3
"""Generate the NER demo data: plugins/demo/ner/{train,dev,test}.txt.

CoNLL-style NER, ``token TAG`` per line and a blank line after each sentence, IOB2 over
PER/LOC/ORG/MISC. Sentences are composed from the patterns and word lists below (no
third-party text); dev and test draw part of their names from pools held out of train and
reuse a share of train's mentions, so both seen and unseen entities are scored.
Deterministic, independent of PYTHONHASHSEED: running it again rewrites the files
byte-identically (tests/test_demo_data.py checks that).

Usage::

    python3 tools/demo_data/ner.py [--out DIR]

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
from demo_data.common import (  # noqa: E402
    FIRST_NAMES, LAST_NAMES, ORG_STEMS, ORG_SUFFIXES, cap_first, split_holdout,
)

OUT_DIR = common.DEMO_DIR / "ner"
SIZES = {"train": 600, "dev": 150, "test": 150}  # sentences
SEED = 20240611  # the sentences
NAMES_SEED = SEED + 1  # the held-out split of the name pools

CITIES = [
    "London", "Paris", "Berlin", "Madrid", "Rome", "Vienna", "Prague", "Warsaw", "Budapest",
    "Lisbon", "Dublin", "Oslo", "Stockholm", "Helsinki", "Copenhagen", "Amsterdam", "Brussels",
    "Zurich", "Geneva", "Munich", "Hamburg", "Milan", "Barcelona", "Lyon", "Marseille", "Athens",
    "Istanbul", "Cairo", "Nairobi", "Lagos", "Accra", "Johannesburg", "Cape Town", "Casablanca",
    "Dubai", "Abu Dhabi", "Riyadh", "Mumbai", "New Delhi", "Bangalore", "Karachi", "Dhaka",
    "Bangkok", "Jakarta", "Manila", "Singapore", "Kuala Lumpur", "Hong Kong", "Shanghai",
    "Beijing", "Seoul", "Tokyo", "Osaka", "Sydney", "Melbourne", "Auckland", "Toronto",
    "Montreal", "Vancouver", "New York", "Los Angeles", "San Francisco", "Chicago", "Boston",
    "Houston", "Mexico City", "Bogota", "Lima", "Santiago", "Buenos Aires", "Sao Paulo",
    "Rio de Janeiro", "Tel Aviv", "St. Petersburg", "Kansas City", "Salt Lake City", "Hanoi",
    "Ho Chi Minh City", "Addis Ababa", "Dar es Salaam", "Kyiv", "Rotterdam", "Gothenburg",
    "Porto", "Krakow", "Edinburgh", "Glasgow", "Manchester", "Frankfurt", "Turin", "Seville",
    "Valencia", "Marrakesh", "Perth", "Quebec City", "Panama City", "Kuwait City",
]

COUNTRIES = [
    "Germany", "France", "Italy", "Spain", "Portugal", "Poland", "Austria", "Switzerland",
    "Sweden", "Norway", "Finland", "Denmark", "Ireland", "Greece", "Turkey", "Egypt", "Kenya",
    "Nigeria", "Ghana", "Morocco", "South Africa", "India", "Pakistan", "Bangladesh", "China",
    "Japan", "South Korea", "Vietnam", "Thailand", "Indonesia", "Malaysia", "Brazil",
    "Argentina", "Chile", "Peru", "Colombia", "Mexico", "Canada", "Australia", "New Zealand",
    "Saudi Arabia", "Sri Lanka", "Costa Rica", "Hungary", "Romania", "Bulgaria", "Croatia",
    "Ukraine", "Israel", "Jordan", "Ethiopia", "Tanzania", "Uruguay", "Ecuador", "El Salvador",
    "North Macedonia", "Iceland", "Estonia", "Latvia", "Lithuania", "Belgium", "Qatar",
    "Tunisia", "Senegal", "Bosnia and Herzegovina", "Trinidad and Tobago", "Papua New Guinea",
]

NATIONALITIES = [
    "German", "French", "Italian", "Spanish", "Portuguese", "Polish", "Austrian", "Swiss",
    "Swedish", "Norwegian", "Finnish", "Danish", "Irish", "Greek", "Turkish", "Egyptian",
    "Kenyan", "Nigerian", "Ghanaian", "Moroccan", "South African", "Indian", "Pakistani",
    "Chinese", "Japanese", "South Korean", "Vietnamese", "Thai", "Indonesian", "Malaysian",
    "Brazilian", "Argentine", "Chilean", "Peruvian", "Colombian", "Mexican", "Canadian",
    "Australian", "New Zealand", "Dutch", "Belgian", "British", "American", "Russian",
    "Hungarian", "Romanian", "Croatian", "Ukrainian", "Israeli", "Ethiopian", "Icelandic",
    "Estonian", "Sri Lankan", "Saudi", "Costa Rican", "Tunisian", "Senegalese", "Uruguayan",
]

LANGUAGES = [
    "English", "French", "Spanish", "German", "Portuguese", "Arabic", "Mandarin", "Cantonese",
    "Hindi", "Bengali", "Swahili", "Yoruba", "Japanese", "Korean", "Russian", "Italian",
    "Polish", "Turkish", "Dutch", "Greek", "Finnish", "Hungarian", "Tagalog", "Urdu",
    "Vietnamese", "Amharic", "Catalan", "Basque", "Welsh", "Icelandic", "Hausa", "Zulu",
    "Tamil", "Estonian", "Brazilian Portuguese", "Latin",
]

# central banks (besides the compositional "Bank of <country>")
CENTRAL_BANKS = ["European Central Bank", "Federal Reserve", "Swiss National Bank",
                 "Reserve Bank of Australia", "Bank of England", "Reserve Bank of India",
                 "Norges Bank", "Riksbank"]
# economic institutions that publish forecasts
ECON_INSTITUTIONS = ["World Bank", "International Monetary Fund", "OECD",
                     "African Development Bank", "Asian Development Bank",
                     "European Commission", "World Trade Organization",
                     "Inter-American Development Bank", "European Bank for Reconstruction and Development"]
COURTS = ["Supreme Court", "Constitutional Court", "High Court", "Court of Appeal",
          "European Court of Justice", "Federal Court", "Commercial Court"]

TEAM_WORDS = ["United", "City", "Rovers", "Athletic", "Wanderers", "Rangers", "Albion",
              "Dynamo", "Sporting", "Olympic"]

# team tournaments (a match is played "in the opening match of the ...")
CUP_EVENTS = ["World Cup", "European Championship", "Africa Cup of Nations", "Copa America",
              "Asian Cup", "Gold Cup", "Nations League", "Women's World Cup",
              "Rugby World Cup", "Cricket World Cup", "Under-21 Championship"]
# multi-sport games (medals are won "at the ...")
GAMES_EVENTS = ["Olympic Games", "Winter Olympics", "Asian Games", "Commonwealth Games",
                "Paralympic Games", "Pan American Games", "European Games", "African Games",
                "Mediterranean Games", "World University Games", "Youth Olympics"]
# individual competitions: "<nationality> Open", "<city> Marathon", ...
SPORT_FIXED = ["Tour de France", "Giro d'Italia", "Vuelta a Espana", "World Chess Championship",
               "Diamond League final"]
SPORT_NAT_FORMS = ["{} Open", "{} Grand Prix", "{} Masters", "{} Championships", "{} Classic"]
SPORT_CITY_FORMS = ["{} Marathon", "{} Half Marathon", "{} Open", "{} Classic"]
# trade fairs, festivals and summits (products are unveiled "at the ...")
FAIR_CITY_FORMS = ["{} Book Fair", "{} Motor Show", "{} Tech Summit", "{} Trade Fair",
                   "{} Design Week", "{} Electronics Show", "{} Business Forum"]
FAIR_FIXED = ["World Economic Forum", "Mobile World Congress", "Frankfurt Book Fair",
              "Consumer Electronics Show"]
FILM_FEST_FORMS = ["{} Film Festival", "{} International Film Festival", "{} Film Week",
                   "{} Documentary Festival"]

PRODUCT_STEMS = [
    "Nimbus", "Corvo", "Axion", "Lumen", "Veloce", "Pulsar", "Quill", "Orbis", "Tessera",
    "Strata", "Vireo", "Kinetix", "Arcadia", "Solace", "Brio", "Zenda", "Mako", "Talon",
    "Prism", "Cobalt", "Ember", "Glint", "Sable", "Tundra", "Vesper", "Wren", "Zircon", "Juno",
    "Helix", "Aether", "Boreal", "Calyx", "Drift", "Fjord", "Kaia", "Lynx", "Mistra", "Nova",
    "Onyx", "Pico", "Rune", "Sierra", "Triton", "Umber", "Vanta", "Xylo",
]
PRODUCT_MODS = ["Pro", "Max", "Lite", "Plus", "Air", "GT", "X", "S", "Mini", "Ultra", "Neo"]

# non-entity fillers --------------------------------------------------------

FILLERS: dict[str, list[str]] = {
    "title": ["chief executive", "chairman", "finance director", "spokeswoman", "spokesman",
              "president", "managing director", "head of research", "chief economist",
              "deputy director", "board member", "chief operating officer", "general counsel",
              "head of sales", "chief financial officer"],
    "saidv": ["said", "confirmed", "announced", "told analysts", "said in a statement",
              "told shareholders"],
    "rise": ["rise", "fall", "grow", "drop", "increase", "decline"],
    "moved": ["rose", "fell", "climbed", "jumped", "dropped", "tumbled"],
    "rose": ["rose", "fell", "climbed", "slipped", "jumped", "dropped", "edged up", "edged down"],
    "day": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "month": ["January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December"],
    "quarter": ["first", "second", "third", "fourth"],
    "sector": ["steel", "software", "retail", "energy", "pharmaceutical", "telecoms", "food",
               "car", "chip", "banking", "solar", "textile", "shipping", "insurance"],
    "occupation": ["architect", "novelist", "economist", "engineer", "painter", "chef",
                   "lawyer", "photographer", "composer", "diplomat", "surgeon", "historian"],
    "ordinal": ["first", "second", "third", "fourth", "fifth", "sixth"],
    "yrs": ["two-year", "three-year", "four-year", "five-year", "one-year"],
    "commodity": ["copper", "wheat", "coffee", "cocoa", "sugar", "crude oil", "natural gas",
                  "aluminium", "cotton", "soybeans", "nickel", "rice"],
    "better": ["better", "worse", "weaker", "stronger"],
    "workers": ["dock workers", "train drivers", "nurses", "teachers", "pilots", "miners",
                "bus drivers", "postal workers"],
    "reason": ["heavy snow", "a strike", "high winds", "a power cut", "technical problems",
               "dense fog", "flooding"],
    "facility": ["factory", "research centre", "warehouse", "data centre", "plant",
                 "distribution hub", "office"],
}


def _num(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return str(rng.randint(2, 99))
    return str(rng.randint(100, 950))


def _pct(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return "{} percent".format(rng.randint(1, 15))
    return "{}.{} percent".format(rng.randint(0, 9), rng.randint(1, 9))


def _money(rng: random.Random) -> str:
    unit = rng.choice(["million", "billion"])
    cur = rng.choice(["dollars", "euros", "pounds", "yen", "Swiss francs"])
    amt = str(rng.randint(2, 900)) if unit == "million" else "{}.{}".format(rng.randint(1, 30), rng.randint(1, 9))
    return "{} {} {}".format(amt, unit, cur)


DYNAMIC_FILLERS = {
    "num": _num,
    "pct": _pct,
    "money": _money,
    "year": lambda rng: str(rng.randint(1978, 2023)),
    "fyear": lambda rng: str(rng.randint(2026, 2032)),
    "few": lambda rng: str(rng.randint(2, 60)),
    "age": lambda rng: str(rng.randint(34, 71)),
    "num2": lambda rng: str(rng.randint(2, 19)),
    "bignum": lambda rng: "{},{:03d}".format(rng.randint(1, 90), rng.randint(0, 999)) if rng.random() < 0.8 else str(rng.randint(200, 990)),
    "score": lambda rng: rng.choice(["1-0", "2-0", "2-1", "3-1", "3-0", "4-2", "3-2", "4-1"]),
    "price": lambda rng: "{}.{:02d}".format(rng.randint(3, 180), rng.randint(0, 99)),
    "time": lambda rng: "{}:{:02d}:{:02d}".format(rng.randint(2, 3), rng.randint(0, 59), rng.randint(0, 59)),
}

# Entity sentence patterns. Slots in UPPER case are entities, lower case are
# filler words (tag O). Tokens are separated by single spaces.
NER_PATTERNS = [
    "{PER} , {title} of {ORG} , {saidv} the company expects {sector} sales to {rise} by {pct} next year .",
    "{ORG} {saidv} on {day} it had agreed to buy {ORG} for {money} .",
    "Shares in {ORG} {rose} {pct} in {CITY} after the results .",
    "{CITY} will host the {GAMES} in {fyear} , the {NAT} sports minister said .",
    "{PER} won the {SPORT} on {day} , beating {PER} in the final .",
    "{ORG} plans to open a new {facility} near {CITY} by {fyear} , creating {bignum} jobs .",
    "Talks between {COUNTRY} and {COUNTRY} resumed in {CITY} on {day} .",
    "{PER} told reporters in {CITY} that {ORG} would not change its strategy .",
    "The {PROD} , made by {ORG} , goes on sale in {COUNTRY} in {month} .",
    "{PERL} said the deal was good news for workers in {CITY} .",
    "{ORG} appointed {PER} as its new {title} , replacing {PER} .",
    "Officials in {CITY} said {few} people were injured when a bus overturned on {day} .",
    "{TEAM} beat {TEAM} {score} in {CITY} on {day} .",
    "{PER} scored twice as {TEAM} came from behind to win at home .",
    "The {CBANK} cut its key interest rate to {pct} on {day} .",
    "Exports from {COUNTRY} {rose} {pct} in {month} , official data showed .",
    "A spokesman for {ORG} declined to comment on the report .",
    "The film , shot in {LANG} and {LANG} , opens the {FILMFEST} this week .",
    "{PER} , a {NAT} {occupation} , has lived in {CITY} since {year} .",
    "{ORG} and {ORG} announced a joint venture to build {sector} plants in {COUNTRY} .",
    "According to {ORG} , demand for the {PROD} has been stronger than expected .",
    "Flights between {CITY} and {CITY} were cancelled because of {reason} .",
    "{PER} will travel to {COUNTRY} next week for talks with {NAT} officials .",
    "The {GAMES} attracted more than {bignum} visitors to {CITY} .",
    "\" We are very pleased with the result , \" {PER} said .",
    "\" This is a difficult time for everyone at {ORG} , \" said {PERL} .",
    "{ORG} reported a net profit of {money} for the {quarter} quarter .",
    "Police in {CITY} arrested {few} people after protests outside the offices of {ORG} .",
    "{PER} and {PER} will lead the {NAT} delegation at the {EVENT} .",
    "Regulators in {CITY} approved the merger of {ORG} and {ORG} .",
    "{ORG} , based in {CITY} , employs about {bignum} people .",
    "Sales of the {PROD} fell sharply in {COUNTRY} during the {quarter} quarter .",
    "{PER} of {COUNTRY} finished {ordinal} in {time} .",
    "Courses in {LANG} are now offered at {num} schools across {COUNTRY} .",
    "{NAT} and {NAT} negotiators failed to reach an agreement on {day} .",
    "{PER} , who founded {ORG} in {year} , stepped down as {title} on {day} .",
    "The {NAT} carmaker {CAR} recalled {bignum} vehicles because of faulty brakes .",
    "Analysts at {ORG} expect the {NAT} economy to grow {pct} this year , above the {ECON} forecast .",
    "{ORG} moved its headquarters from {CITY} to {CITY} in {year} .",
    "{TEAM} have signed {NAT} midfielder {PER} on a {yrs} contract .",
    "Heavy rain caused flooding in parts of {COUNTRY} , and {few} roads near {CITY} were closed .",
    "{PER} is expected to unveil the new {PROD} at the {FAIR} .",
    "{ORG} said it would cut {bignum} jobs in {COUNTRY} and {COUNTRY} .",
    "The {LANG} edition of the book was published in {CITY} in {year} .",
    "{PER} , {age} , has been {title} of {ORG} for {num2} years .",
    "Mayor {PER} of {CITY} opened the new bridge on {day} .",
    "{COUNTRY} will play {COUNTRY} in the opening match of the {CUP} .",
    "The {CBANK} said on {day} that inflation slowed to {pct} in {month} .",
    "{ORG} lost its appeal at the {COURT} on {day} .",
    "The {PROD} uses software developed by {ORG} in {CITY} .",
    "{PER} , speaking in {LANG} , thanked fans in {CITY} for their support .",
    "Oil prices {rose} on {day} after {COUNTRY} signalled lower output .",
    "{PER} said : \" {ORG} remains committed to {COUNTRY} . \"",
    "Investors sold {NAT} bonds after {PER} warned of slower growth .",
    "{ORG} shares closed at {price} in {CITY} on {day} .",
    "{ORG} to buy stake in {ORG} .",
    "{PER} wins {SPORT} title .",
    "The {NAT} relay team won gold at the {GAMES} , ahead of {COUNTRY} and {COUNTRY} .",
    "Tourism in {COUNTRY} grew strongly after {ORG} added direct flights from {CITY} .",
    "{PER} ( {COUNTRY} ) and {PER} ( {COUNTRY} ) shared the lead after the {ordinal} round .",
    "{LOC} : {ORG} wins contract to build new {facility} .",
    "{PERL} , who also speaks {LANG} , is the {ordinal} {NAT} to hold the post .",
    "The {ECON} warned that growth in {COUNTRY} could slow sharply next year .",
    "{ORG} , the {NAT} {sector} group , said {quarter} - quarter revenue {rose} {pct} .",
    "Coach {PER} said {COUNTRY} must improve before the {CUP} .",
    "{PER} , the {NAT} champion , withdrew from the {SPORT} with a knee injury .",
    "Delegates from {num2} countries met at the {FAIR} to discuss {sector} regulation .",
    "The {ECON} lent {money} to {COUNTRY} to rebuild roads and bridges .",
    "{PER} ( {ORG} ) said a {LANG} version of the {PROD} would follow in {month} .",
]

NO_ENTITY_PATTERNS = [
    "The {sector} index {rose} {pct} in early trading .",
    "Prices for {commodity} {rose} for a {ordinal} consecutive week .",
    "The company said it expected profits to improve in the {quarter} quarter .",
    "Analysts said the {quarter} - quarter figures were {better} than expected .",
    "Unemployment rose to {pct} in {month} , the highest level in {num2} years .",
    "The meeting was postponed until {day} because of {reason} .",
    "About {bignum} people attended the ceremony on {day} .",
    "Officials said the new rules would take effect in {month} .",
    "The bank raised its forecast for economic growth to {pct} .",
    "Demand for {commodity} remained weak , traders said on {day} .",
    "The strike by {workers} ended after {num2} days of talks .",
    "Police said {few} people were hurt in the accident on {day} .",
    "The {sector} sector accounted for {pct} of total exports last year .",
    "Trading volumes were thin ahead of the holiday weekend , dealers said .",
    "The board will meet again in {month} to discuss the {sector} proposal .",
    "Shares in {sector} companies {moved} sharply on {day} afternoon .",
    "The {title} is expected to present the annual report on {day} .",
    "Rescue teams worked through the night after {reason} hit the coast .",
]

ENTITY_TYPES = {
    "PER": "PER", "PERL": "PER", "CITY": "LOC", "COUNTRY": "LOC", "LOC": "LOC",
    "ORG": "ORG", "CAR": "ORG", "TEAM": "ORG", "CBANK": "ORG", "ECON": "ORG", "COURT": "ORG",
    "NAT": "MISC", "EVENT": "MISC", "CUP": "MISC", "GAMES": "MISC", "SPORT": "MISC",
    "FAIR": "MISC", "FILMFEST": "MISC", "PROD": "MISC", "LANG": "MISC",
}


class NerNames:
    """Name pools with a held-out part used only by dev/test."""

    def __init__(self, rng: random.Random) -> None:
        frac = 0.3
        self.pools = {}
        for key, items in [
            ("first", FIRST_NAMES), ("last", LAST_NAMES), ("city", CITIES),
            ("country", COUNTRIES), ("nat", NATIONALITIES), ("lang", LANGUAGES),
            ("orgstem", ORG_STEMS), ("cbank", CENTRAL_BANKS), ("econ", ECON_INSTITUTIONS),
            ("court", COURTS), ("cup", CUP_EVENTS), ("games", GAMES_EVENTS),
            ("sport", SPORT_FIXED), ("fair", FAIR_FIXED), ("prodstem", PRODUCT_STEMS),
        ]:
            self.pools[key] = split_holdout(rng, items, frac)

    def pick(self, rng: random.Random, key: str, held: bool) -> str:
        seen, held_out = self.pools[key]
        return rng.choice(held_out if held else seen)


class NerGenerator:
    def __init__(self, rng: random.Random, names: NerNames) -> None:
        self.rng = rng
        self.names = names
        # mentions generated for train, per slot: list of (surface, last name)
        self.memory: dict[str, list[tuple[str, str | None]]] = {}
        self.recording = True
        self.reuse_prob = 0.0

    def entity(self, slot: str, held_prob: float, state: dict) -> str:
        """Return an entity surface string (tokens separated by spaces).

        While recording (train), every mention is remembered. For dev/test,
        with probability ``reuse_prob`` a mention seen in train is reused
        verbatim; otherwise a fresh one is built, whose components come from
        the held-out pools with probability ``held_prob``.
        """
        mem = self.memory.get(slot)
        if not self.recording and slot != "PERL" and mem and self.rng.random() < self.reuse_prob:
            surface, last = self.rng.choice(mem)
            if last is not None:
                state["last"] = last
            return surface
        surface = self._fresh_entity(slot, held_prob, state)
        if self.recording:
            self.memory.setdefault(slot, []).append((surface, state.get("last") if slot == "PER" else None))
        return surface

    def _fresh_entity(self, slot: str, held_prob: float, state: dict) -> str:
        rng = self.rng
        n = self.names

        def h() -> bool:
            return rng.random() < held_prob

        if slot == "PER":
            last = n.pick(rng, "last", h())
            first = n.pick(rng, "first", h())
            state["last"] = last
            r = rng.random()
            if r < 0.08:
                return "{} {}. {}".format(first, rng.choice("ABCDEFGHJKLMNPRSTW"), last)
            if r < 0.13:
                return last  # surname-only mention
            return "{} {}".format(first, last)
        if slot == "PERL":
            if "last" in state:
                return state["last"]
            return n.pick(rng, "last", h())
        if slot == "CITY":
            return n.pick(rng, "city", h())
        if slot == "COUNTRY":
            return n.pick(rng, "country", h())
        if slot == "LOC":
            return n.pick(rng, "city" if rng.random() < 0.6 else "country", h())
        if slot == "NAT":
            return n.pick(rng, "nat", h())
        if slot == "LANG":
            return n.pick(rng, "lang", h())
        if slot == "ORG":
            held = h()
            stem = n.pick(rng, "orgstem", held)
            r = rng.random()
            if r < 0.65:
                return "{} {}".format(stem, rng.choice(ORG_SUFFIXES))
            if r < 0.8:
                return stem
            if r < 0.9:
                other = n.pick(rng, "orgstem", held)
                if other == stem:
                    return stem
                return "{} & {}".format(stem, other)
            return "{} {} Inc".format(stem, rng.choice(ORG_SUFFIXES[:12]))
        if slot == "CAR":
            stem = n.pick(rng, "orgstem", h())
            return rng.choice(["{} Motors", "{} Automotive", "{} Auto", "{}"]).format(stem)
        if slot == "CBANK":
            held = h()
            if rng.random() < 0.5:
                return "Bank of {}".format(n.pick(rng, "country", held))
            return n.pick(rng, "cbank", held)
        if slot == "ECON":
            return n.pick(rng, "econ", h())
        if slot == "COURT":
            held = h()
            if rng.random() < 0.25:
                return "{} Supreme Court".format(n.pick(rng, "nat", held))
            return n.pick(rng, "court", held)
        if slot == "TEAM":
            held = h()
            city = n.pick(rng, "city", held)
            r = rng.random()
            if r < 0.75:
                return "{} {}".format(city, rng.choice(TEAM_WORDS))
            return "FC {}".format(city)
        if slot == "EVENT":
            slot = rng.choice(["CUP", "GAMES", "SPORT", "FAIR"])
        if slot == "CUP":
            return n.pick(rng, "cup", h())
        if slot == "GAMES":
            return n.pick(rng, "games", h())
        if slot == "SPORT":
            held = h()
            r = rng.random()
            if r < 0.2:
                return n.pick(rng, "sport", held)
            if r < 0.6:
                return rng.choice(SPORT_NAT_FORMS).format(n.pick(rng, "nat", held))
            return rng.choice(SPORT_CITY_FORMS).format(n.pick(rng, "city", held))
        if slot == "FAIR":
            held = h()
            if rng.random() < 0.2:
                return n.pick(rng, "fair", held)
            return rng.choice(FAIR_CITY_FORMS).format(n.pick(rng, "city", held))
        if slot == "FILMFEST":
            return rng.choice(FILM_FEST_FORMS).format(n.pick(rng, "city", h()))
        if slot == "PROD":
            stem = n.pick(rng, "prodstem", h())
            r = rng.random()
            if r < 0.25:
                return stem
            if r < 0.6:
                return "{} {}".format(stem, rng.choice(PRODUCT_MODS))
            if r < 0.85:
                return "{} {}".format(stem, rng.randint(2, 12))
            return "{} {} {}".format(stem, rng.randint(2, 12), rng.choice(PRODUCT_MODS))
        raise KeyError(slot)

    def filler(self, slot: str) -> str:
        if slot in DYNAMIC_FILLERS:
            return DYNAMIC_FILLERS[slot](self.rng)
        return self.rng.choice(FILLERS[slot])

    def realise(self, pattern: str, held_prob: float) -> list[tuple[str, str]] | None:
        """Fill ``pattern``; returns None if two slots produced the same name."""
        out: list[tuple[str, str]] = []
        state: dict = {}
        for piece in pattern.split(" "):
            if piece.startswith("{") and piece.endswith("}"):
                slot = piece[1:-1]
                if slot in ENTITY_TYPES:
                    etype = ENTITY_TYPES[slot]
                    toks = self.entity(slot, held_prob, state).split(" ")
                    for i, tok in enumerate(toks):
                        out.append((tok, ("B-" if i == 0 else "I-") + etype))
                else:
                    for tok in self.filler(slot).split(" "):
                        out.append((tok, "O"))
            else:
                out.append((piece, "O"))
        ments = mentions(out)
        if len(set(m for _, m in ments)) != len(ments) and "{PERL}" not in pattern:
            return None
        first_tok, first_tag = out[0]
        if first_tag == "O" and first_tok[:1].islower():
            out[0] = (cap_first(first_tok), first_tag)
        return out


def iob2_valid(tags: list[str]) -> bool:
    prev = "O"
    for tag in tags:
        if tag == "O":
            pass
        elif tag[:2] == "B-":
            if tag[2:] not in ("PER", "LOC", "ORG", "MISC"):
                return False
        elif tag[:2] == "I-":
            if tag[2:] not in ("PER", "LOC", "ORG", "MISC"):
                return False
            if prev == "O" or prev[2:] != tag[2:]:
                return False
        else:
            return False
        prev = tag
    return True


def mentions(sent: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Return (type, surface) for every entity mention in a sentence."""
    res = []
    cur_type, cur_toks = None, []
    for tok, tag in sent + [("", "O")]:
        if tag.startswith("I-") and cur_type == tag[2:]:
            cur_toks.append(tok)
            continue
        if cur_type is not None:
            res.append((cur_type, " ".join(cur_toks)))
            cur_type, cur_toks = None, []
        if tag.startswith("B-"):
            cur_type, cur_toks = tag[2:], [tok]
    return res


def build_splits() -> dict[str, list[list[tuple[str, str]]]]:
    rng = random.Random(SEED)
    names = NerNames(random.Random(NAMES_SEED))
    gen = NerGenerator(rng, names)
    assert len(NER_PATTERNS) >= 40, "need at least 40 entity patterns"

    seen_keys: set[str] = set()
    splits: dict[str, list[list[tuple[str, str]]]] = {}
    no_ent_target = {"train": 75, "dev": 19, "test": 19}  # ~12.5 %
    for split, size in SIZES.items():
        held_prob = 0.0 if split == "train" else 0.5
        gen.recording = split == "train"
        gen.reuse_prob = 0.0 if split == "train" else 0.4
        n_noent = no_ent_target[split]
        kinds = ["none"] * n_noent + ["ent"] * (size - n_noent)
        rng.shuffle(kinds)
        sents = []
        for i, kind in enumerate(kinds):
            # cycle through the patterns so that every one of them is used
            for _attempt in range(1000):
                if kind == "none":
                    pattern = rng.choice(NO_ENTITY_PATTERNS)
                else:
                    pattern = NER_PATTERNS[(i + rng.randrange(len(NER_PATTERNS))) % len(NER_PATTERNS)]
                sent = gen.realise(pattern, held_prob)
                if sent is None:
                    continue
                key = " ".join(t for t, _ in sent)
                if key in seen_keys or not 5 <= len(sent) <= 30:
                    continue
                seen_keys.add(key)
                sents.append(sent)
                break
            else:
                raise RuntimeError("could not generate a unique sentence")
        splits[split] = sents
    check(splits)
    return splits


def check(splits: dict[str, list[list[tuple[str, str]]]]) -> None:
    all_keys = []
    train_mentions = set()
    for split, sents in splits.items():
        n_noent = 0
        n_multi = 0
        n_ment = 0
        for sent in sents:
            assert 5 <= len(sent) <= 30, (split, sent)
            for tok, tag in sent:
                assert tok and not any(c.isspace() for c in tok), repr(tok)
                assert tok != "-DOCSTART-"
            assert iob2_valid([t for _, t in sent]), sent
            ments = mentions(sent)
            if not ments:
                n_noent += 1
            n_ment += len(ments)
            n_multi += sum(1 for _, s in ments if " " in s)
            all_keys.append(" ".join(t for t, _ in sent))
            if split == "train":
                train_mentions.update(ments)
        frac_noent = n_noent / len(sents)
        assert 0.10 <= frac_noent <= 0.15, (split, frac_noent)
        assert n_multi / n_ment >= 0.25, (split, n_multi / n_ment)
    assert len(all_keys) == len(set(all_keys)), "duplicate NER sentences"
    for split in ("dev", "test"):
        ments = [m for s in splits[split] for m in mentions(s)]
        unseen = sum(1 for m in ments if m not in train_mentions)
        assert unseen / len(ments) >= 0.30, (split, unseen / len(ments))


def to_text(sents: list[list[tuple[str, str]]]) -> str:
    blocks = []
    for sent in sents:
        blocks.append("".join("{} {}\n".format(tok, tag) for tok, tag in sent) + "\n")
    return "".join(blocks)


def report(splits: dict[str, list[list[tuple[str, str]]]]) -> list[str]:
    lines = []
    train_mentions = {m for s in splits["train"] for m in mentions(s)}
    for split, sents in splits.items():
        ments = [m for s in sents for m in mentions(s)]
        types = Counter(t for t, _ in ments)
        n_tok = sum(len(s) for s in sents)
        noent = sum(1 for s in sents if not mentions(s))
        multi = sum(1 for _, s in ments if " " in s)
        line = ("ner/{}.txt: {} sentences, {} tokens, {} mentions ({}), "
                "multi-token {:.0%}, no-entity sentences {} ({:.1%})").format(
            split, len(sents), n_tok, len(ments),
            ", ".join("{}={}".format(k, types[k]) for k in ("PER", "LOC", "ORG", "MISC")),
            multi / len(ments), noent, noent / len(sents))
        if split != "train":
            unseen = sum(1 for m in ments if m not in train_mentions)
            line += ", mentions unseen in train {:.1%}".format(unseen / len(ments))
        lines.append(line)
    return lines


# ---------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------

def render(splits: dict[str, list[list[tuple[str, str]]]]) -> dict[str, str]:
    return {"{}.txt".format(split): to_text(sents) for split, sents in splits.items()}


build, write, main = common.generator(OUT_DIR, build_splits, render, report, __doc__)


if __name__ == "__main__":
    main()
