#!/usr/bin/env python3
"""Generate the small, original demo datasets shipped with ptrun.

All text is produced compositionally from the templates and word lists in this
file (no third-party dataset text is used). The generator is fully
deterministic: running it again rewrites every output file byte-identically,
independent of PYTHONHASHSEED.

Outputs (paths relative to the repository root):

* plugins/demo/ner/{train,dev,test}.txt
      CoNLL-style NER, ``token TAG`` per line, IOB2 over PER/LOC/ORG/MISC.
* plugins/demo/sentiment/{train,dev,test}.tsv
      ``text<TAB>label`` with labels ``negative`` / ``positive``.
* examples/ptrun-intent/ptrun_intent/data/{train,dev,test}.jsonl
      ``{"id", "text", "intent"}`` customer-service messages, 8 intents.
* plugins/demo/qa/{train,dev,test}.json
      SQuAD-layout extractive QA: invented paragraphs about fictional companies,
      towns and people, each with questions whose answers are spans of it.

Usage::

    python3 tools/make_demo_data.py

Only the Python standard library is used.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

SEED = 20240611
ROOT = Path(__file__).resolve().parent.parent

NER_DIR = ROOT / "plugins" / "demo" / "ner"
SENT_DIR = ROOT / "plugins" / "demo" / "sentiment"
INTENT_DIR = ROOT / "examples" / "ptrun-intent" / "ptrun_intent" / "data"
QA_DIR = ROOT / "plugins" / "demo" / "qa"

NER_SIZES = {"train": 600, "dev": 150, "test": 150}
SENT_SIZES = {"train": 600, "dev": 150, "test": 150}
INTENT_PER_LABEL = {"train": 40, "dev": 10, "test": 10}

MAX_TOTAL_BYTES = 600 * 1024


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)


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
# 1. NER
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


def build_ner() -> dict[str, list[list[tuple[str, str]]]]:
    rng = random.Random(SEED)
    names = NerNames(random.Random(SEED + 1))
    gen = NerGenerator(rng, names)
    assert len(NER_PATTERNS) >= 40, "need at least 40 entity patterns"

    seen_keys: set[str] = set()
    splits: dict[str, list[list[tuple[str, str]]]] = {}
    no_ent_target = {"train": 75, "dev": 19, "test": 19}  # ~12.5 %
    for split, size in NER_SIZES.items():
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
    check_ner(splits)
    return splits


def check_ner(splits: dict[str, list[list[tuple[str, str]]]]) -> None:
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


def ner_to_text(sents: list[list[tuple[str, str]]]) -> str:
    blocks = []
    for sent in sents:
        blocks.append("".join("{} {}\n".format(tok, tag) for tok, tag in sent) + "\n")
    return "".join(blocks)


def ner_report(splits: dict[str, list[list[tuple[str, str]]]]) -> list[str]:
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
# 2. Sentiment
# ---------------------------------------------------------------------------

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


def build_sentiment() -> dict[str, list[tuple[str, str]]]:
    rng = random.Random(SEED + 2)

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
    for split, size in SENT_SIZES.items():
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
    check_sentiment(splits)
    return splits


def check_sentiment(splits: dict[str, list[tuple[str, str]]]) -> None:
    texts = [t for rows in splits.values() for t, _ in rows]
    assert len(texts) == len(set(texts)), "duplicate sentiment rows"
    for split, rows in splits.items():
        counts = Counter(l for _, l in rows)
        assert set(counts) == {"negative", "positive"}, counts
        assert abs(counts["positive"] - counts["negative"]) <= 0.1 * len(rows), counts
        for text, _ in rows:
            assert "\t" not in text and "\n" not in text and "\r" not in text
            assert '"' not in text and text == text.strip() and "  " not in text


def sentiment_to_text(rows: list[tuple[str, str]]) -> str:
    return "text\tlabel\n" + "".join("{}\t{}\n".format(t, l) for t, l in rows)


# ---------------------------------------------------------------------------
# 3. Intent detection
# ---------------------------------------------------------------------------

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


def build_intent() -> dict[str, list[dict[str, str]]]:
    rng = random.Random(SEED + 3)

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
    for split, per_label in INTENT_PER_LABEL.items():
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
    check_intent(splits)
    return splits


def check_intent(splits: dict[str, list[dict[str, str]]]) -> None:
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


def intent_to_text(rows: list[dict[str, str]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


# ---------------------------------------------------------------------------
# 4. Question answering (SQuAD layout)
# ---------------------------------------------------------------------------

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

QA_SIZES = {"train": 150, "dev": 30, "test": 30}  # paragraphs; ~4 questions each
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


def build_qa() -> dict[str, dict]:
    rng = random.Random(SEED + 4)
    names = QaNames(random.Random(SEED + 5))
    splits = {}
    for split, size in QA_SIZES.items():
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
    check_qa(splits)
    return splits


def check_qa(splits: dict[str, dict]) -> None:
    titles = [a["title"] for data in splits.values() for a in data["data"]]
    assert len(titles) == len(set(titles)), "a QA subject repeats"
    for data in splits.values():
        for article in data["data"]:
            for paragraph in article["paragraphs"]:
                ctx = paragraph["context"]
                for qa in paragraph["qas"]:
                    for ans in qa["answers"]:
                        assert ctx[ans["answer_start"]:ans["answer_start"] + len(ans["text"])] == ans["text"]


def qa_to_text(data: dict) -> str:
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------

def main() -> None:
    written: list[Path] = []
    report: list[str] = []

    ner = build_ner()
    for split, sents in ner.items():
        path = NER_DIR / "{}.txt".format(split)
        write_text(path, ner_to_text(sents))
        written.append(path)
    report.extend(ner_report(ner))

    sent = build_sentiment()
    for split, rows in sent.items():
        path = SENT_DIR / "{}.tsv".format(split)
        write_text(path, sentiment_to_text(rows))
        written.append(path)
        counts = Counter(l for _, l in rows)
        report.append("sentiment/{}.tsv: {} rows (negative={}, positive={})".format(
            split, len(rows), counts["negative"], counts["positive"]))

    intent = build_intent()
    for split, rows in intent.items():
        path = INTENT_DIR / "{}.jsonl".format(split)
        write_text(path, intent_to_text(rows))
        written.append(path)
        counts = Counter(r["intent"] for r in rows)
        report.append("intent/{}.jsonl: {} rows ({})".format(
            split, len(rows), ", ".join("{}={}".format(k, counts[k]) for k in INTENT_TEMPLATES)))

    qa = build_qa()
    for split, data in qa.items():
        path = QA_DIR / "{}.json".format(split)
        write_text(path, qa_to_text(data))
        written.append(path)
        report.append("qa/{}.json: {} paragraphs, {} questions".format(
            split, len(data["data"]), sum(len(a["paragraphs"][0]["qas"]) for a in data["data"])))

    total = sum(p.stat().st_size for p in written)
    assert total < MAX_TOTAL_BYTES, total
    for line in report:
        print(line)
    print("wrote {} files, {} bytes in total".format(len(written), total))
    for p in written:
        print("  {} ({} bytes)".format(p.relative_to(ROOT), p.stat().st_size))


if __name__ == "__main__":
    main()
