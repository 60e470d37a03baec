"""Synthetic identities for the privacy evaluation set (see `bench/privacy_corpus.py`).

Names from many cultures and scripts, street addresses in a dozen countries' formats, dates
of birth, identifiers with valid checksums, phones, e-mails, and special-category facts;
all drawn from our own lists with a seeded `random.Random`, so the set rebuilds the same.
"""

# ruff: noqa: E501  (word lists are data: one list per line reads best)
from __future__ import annotations

import random

FIRST = [
    "James",
    "Olivia",
    "Wei",
    "Priya",
    "Mohammed",
    "Fatima",
    "Hiroshi",
    "Yuki",
    "Seo-yeon",
    "Min-jun",
    "Oluwaseun",
    "Chiamaka",
    "Kwame",
    "Amara",
    "Dmitri",
    "Anastasia",
    "Katarzyna",
    "Piotr",
    "Jürgen",
    "Annika",
    "Étienne",
    "Camille",
    "Joaquín",
    "Lucía",
    "Thiago",
    "Beatriz",
    "Nguyen",
    "Linh",
    "Mehmet",
    "Elif",
    "Siobhan",
    "Declan",
    "Aroha",
    "Tane",
    "Ingrid",
    "Lars",
    "Rahul",
    "Ananya",
    "Omar",
    "Layla",
    "Yosef",
    "Noa",
    "Zanele",
    "Thabo",
    "Giulia",
    "Matteo",
    "Björn",
    "Astrid",
    "Carlos",
    "Sofía",
    "Emily",
    "Michael",
    "Arjun",
    "Meera",
    "Kenji",
    "Sakura",
    "Ibrahim",
    "Aisha",
    "Pavel",
    "Olena",
    "Tomasz",
    "Agnieszka",
]
LAST = [
    "Smith",
    "Okafor",
    "Zhang",
    "Patel",
    "Al-Sayed",
    "Haddad",
    "Tanaka",
    "Suzuki",
    "Kim",
    "Park",
    "Adeyemi",
    "Nwosu",
    "Mensah",
    "Diallo",
    "Ivanov",
    "Petrova",
    "Kowalski",
    "Nowak",
    "Müller",
    "Schmidt",
    "Dubois",
    "Lefèvre",
    "García",
    "Rodríguez",
    "Silva",
    "Santos",
    "Tran",
    "Pham",
    "Yılmaz",
    "Demir",
    "O'Brien",
    "Murphy",
    "Ngata",
    "Walker",
    "Johansson",
    "Lindqvist",
    "Sharma",
    "Iyer",
    "Hassan",
    "Khalil",
    "Cohen",
    "Levi",
    "Dlamini",
    "Nkosi",
    "Rossi",
    "Bianchi",
    "Eriksson",
    "Nilsson",
    "Hernández",
    "López",
    "Thompson",
    "Williams",
    "Reddy",
    "Nair",
    "Watanabe",
    "Yamamoto",
    "Abdullah",
    "Bello",
    "Novák",
    "Shevchenko",
    "Wiśniewska",
    "MacLeod",
]
TITLES = ("Mr", "Mrs", "Ms", "Dr", "Dr.", "Mr.", "Prof.", "Mx")
SCRIPT_NAMES = ("Мария Иванова", "李明", "王芳", "محمد علي", "Γιώργος Παπαδόπουλος", "佐藤健")


def us_address(r: random.Random) -> str:
    street = r.choice(("Maple", "Oak", "Cedar Ridge", "Washington", "Sunset", "Lincoln", "Elm"))
    kind = r.choice(("Street", "Ave", "Road", "Blvd", "Drive", "Lane", "Court", "St.", "Way"))
    city, st = r.choice(
        (("Springfield", "IL"), ("Austin", "TX"), ("Denver", "CO"), ("Tampa", "FL"))
    )
    unit = r.choice(("", f", Apt. {r.randint(1, 40)}", f" Suite {r.randint(100, 900)}"))
    return f"{r.randint(10, 9999)} {street} {kind}{unit}, {city}, {st} {r.randint(10000, 99999)}"


def uk_address(r: random.Random) -> str:
    street = r.choice(("Baker", "Victoria", "Mill", "Church", "Station", "Kingsway", "Albert"))
    kind = r.choice(("Street", "Road", "Lane", "Close", "Crescent", "Terrace", "Gardens"))
    city, pc = r.choice((("London", "NW1 6XE"), ("Leeds", "LS1 4DY"), ("Bristol", "BS8 1TH")))
    flat = r.choice(("", f"Flat {r.randint(1, 20)}, "))
    return f"{flat}{r.randint(1, 200)} {street} {kind}, {city} {pc}"


def de_address(r: random.Random) -> str:
    street = r.choice(("Haupt", "Bahnhof", "Goethe", "Linden", "Schiller", "Berliner "))
    kind = r.choice(("straße", "str.", "weg", "allee", "platz"))
    city = r.choice(("10115 Berlin", "80331 München", "50667 Köln", "20095 Hamburg"))
    return f"{street}{kind} {r.randint(1, 120)}, {city}"


def fr_address(r: random.Random) -> str:
    street = r.choice(
        (
            "rue de la Paix",
            "avenue Victor Hugo",
            "boulevard Saint-Germain",
            "rue des Lilas",
            "allée des Pins",
            "chemin du Moulin",
        )
    )
    city = r.choice(("75002 Paris", "69001 Lyon", "13001 Marseille", "33000 Bordeaux"))
    return f"{r.randint(1, 150)} {street}, {city}"


def es_it_pt_address(r: random.Random) -> str:
    return r.choice(
        (
            f"Calle Mayor {r.randint(1, 90)}, 28013 Madrid",
            f"Avenida de la Constitución {r.randint(1, 90)}, Sevilla",
            f"Via Roma {r.randint(1, 200)}, 00184 Roma",
            f"Piazza Garibaldi {r.randint(1, 30)}, Napoli",
            f"Rua Augusta, {r.randint(1, 300)}, Lisboa",
            f"Carrer de Balmes {r.randint(1, 300)}, Barcelona",
        )
    )


def nl_nordic_address(r: random.Random) -> str:
    return r.choice(
        (
            f"Keizersgracht {r.randint(1, 800)}, 1015 CJ Amsterdam",
            f"Kalverstraat {r.randint(1, 200)}, Amsterdam",
            f"Storgatan {r.randint(1, 60)}, 111 51 Stockholm",
            f"Nørregade {r.randint(1, 60)}, København",
            f"Karl Johans gate {r.randint(1, 60)}, Oslo",
        )
    )


def asia_africa_address(r: random.Random) -> str:
    return r.choice(
        (
            f"Flat {r.randint(1, 30)}B, {r.randint(1, 99)} MG Road, Bengaluru 560001",
            f"{r.randint(1, 9)}-{r.randint(1, 20)}-{r.randint(1, 30)} Jingumae, Shibuya-ku, Tokyo",
            f"{r.randint(1, 80)} Admiralty Way, Lekki, Lagos",
            f"{r.randint(1, 400)} Jalan Ampang, Kuala Lumpur",
            "北京市朝阳区建国路88号",
            f"{r.randint(1, 90)} Nguyen Hue Boulevard, District 1, Ho Chi Minh City",
            f"{r.randint(1, 200)} George St, Sydney NSW 2000",
            f"{r.randint(1, 200)} Queen Street West, Toronto, ON M5H 2M9",
            f"P.O. Box {r.randint(100, 9999)}, Nairobi",
        )
    )


ADDRESSES = (
    us_address,
    uk_address,
    de_address,
    fr_address,
    es_it_pt_address,
    nl_nordic_address,
    asia_africa_address,
)
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def dob(r: random.Random) -> str:
    y, m, d = r.randint(1940, 2006), r.randint(1, 12), r.randint(1, 28)
    return r.choice(
        (
            f"{m:02d}/{d:02d}/{y}",
            f"{d:02d}.{m:02d}.{y}",
            f"{y}-{m:02d}-{d:02d}",
            f"{d} {MONTHS[m - 1]} {y}",
            f"{MONTHS[m - 1]} {d}, {y}",
            f"{MONTHS[m - 1][:3]} {d} {y}",
            f"{d}/{m}/{str(y)[2:]}",
        )
    )


def luhn_complete(body: str) -> str:
    for check in "0123456789":
        digits = body + check
        total = 0
        for i, c in enumerate(reversed(digits)):
            v = int(c) * (2 if i % 2 else 1)
            total += v - 9 if v > 9 else v
        if total % 10 == 0:
            return digits
    raise AssertionError


def card(r: random.Random) -> str:
    prefix, length = r.choice(
        (
            ("4", 16),
            ("4", 13),
            ("4", 19),
            ("51", 16),
            ("2221", 16),
            ("34", 15),
            ("37", 15),
            ("36", 14),
            ("6011", 16),
            ("35", 16),
            ("62", 19),
            ("6304", 18),
        )
    )
    body = prefix + "".join(str(r.randint(0, 9)) for _ in range(length - len(prefix) - 1))
    digits = luhn_complete(body)
    style = r.random()
    if style < 0.4 and length == 16:
        return " ".join(digits[i : i + 4] for i in range(0, 16, 4))
    if style < 0.6 and length == 15:
        return f"{digits[:4]}-{digits[4:10]}-{digits[10:]}"
    return digits


def iban(r: random.Random) -> str:
    country, bban_len = r.choice((("DE", 18), ("GB", 18), ("FR", 23), ("NL", 14), ("ES", 20)))
    if country in ("GB", "NL"):
        bank = "".join(r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(4))
        bban = bank + "".join(str(r.randint(0, 9)) for _ in range(bban_len - 4))
    else:
        bban = "".join(str(r.randint(0, 9)) for _ in range(bban_len))
    num = "".join(str(int(c, 36)) for c in bban + country + "00")
    check = 98 - int(num) % 97
    raw = f"{country}{check:02d}{bban}"
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4)) if r.random() < 0.5 else raw


def ssn(r: random.Random) -> str:
    a, g, s = r.randint(100, 665), r.randint(10, 99), r.randint(1000, 9999)
    return r.choice((f"{a}-{g}-{s}", f"{a} {g} {s}"))


def national_id(r: random.Random) -> tuple[str, str]:
    kind = r.randint(0, 4)
    if kind == 0:
        return "social security number", ssn(r)
    if kind == 1:
        n = r.randint(10000000, 99999999)
        return "DNI", f"{n}{'TRWAGMYFPDXBNJZSQVHLCKE'[n % 23]}"
    if kind == 2:
        letters = r.choice(("AB", "JG", "KL", "PR", "ZT"))
        return (
            "National Insurance number",
            f"{letters} {r.randint(10, 99)} {r.randint(10, 99)} {r.randint(10, 99)} {r.choice('ABCD')}",
        )
    if kind == 3:
        while True:
            d = [r.randint(0, 9) for _ in range(8)]
            total = sum(x * w for x, w in zip(d, range(9, 1, -1), strict=False))
            last = total % 11
            if last < 10 and d[0] != 0:
                return "BSN", "".join(map(str, d)) + str(last)
    body = f"{r.choice('12')}{r.randint(40, 99):02d}{r.randint(1, 12):02d}{r.randint(1, 95):02d}{r.randint(1, 990):03d}{r.randint(1, 999):03d}"
    return "numéro de sécurité sociale", f"{body}{97 - int(body) % 97:02d}"


def phone(r: random.Random) -> str:
    return r.choice(
        (
            f"+44 20 7946 {r.randint(1000, 9999)}",
            f"07700 900{r.randint(100, 999)}",
            f"+1 (415) 555-{r.randint(1000, 9999)}",
            f"(212) 555-{r.randint(1000, 9999)}",
            f"+49 30 {r.randint(1000000, 9999999)}",
            f"+33 6 {r.randint(10, 99)} {r.randint(10, 99)} {r.randint(10, 99)} {r.randint(10, 99)}",
            f"+91 98{r.randint(100, 999)} {r.randint(10000, 99999)}",
            f"+81 3-{r.randint(1000, 9999)}-{r.randint(1000, 9999)}",
            f"+234 803 {r.randint(100, 999)} {r.randint(1000, 9999)}",
            f"0412 {r.randint(100, 999)} {r.randint(100, 999)}",
            f"415.555.{r.randint(1000, 9999)}",
            f"+61 2 {r.randint(1000, 9999)} {r.randint(1000, 9999)}",
        )
    )


def email(r: random.Random, first: str, last: str) -> str:
    user = f"{first}.{last}".lower().replace("'", "").replace(" ", "")
    user = user.encode("ascii", "ignore").decode() or "user"
    domain = r.choice(("gmail", "outlook", "yahoo", "proton", "acme-corp", "uni-heidelberg"))
    tld = r.choice(("com", "org", "de", "co.uk", "fr"))
    return r.choice(
        (
            f"{user}@{domain}.{tld}",
            f"{user} at {domain} dot {tld.replace('.', ' dot ')}",
            f"{user} [at] {domain} [dot] {tld.replace('.', ' [dot] ')}",
            f"{user}(at){domain}(dot){tld.replace('.', '(dot)')}",
        )
    )


CONDITIONS = (
    "type 2 diabetes",
    "breast cancer",
    "HIV",
    "major depressive disorder",
    "epilepsy",
    "bipolar disorder",
    "Crohn's disease",
    "early-onset dementia",
    "asthma",
    "an anxiety disorder",
    "multiple sclerosis",
    "hypertension",
    "PTSD",
    "lupus",
)
MEDS = (
    "metformin 500mg",
    "sertraline",
    "insulin",
    "lithium",
    "Truvada",
    "levothyroxine",
    "adalimumab",
    "Ozempic",
    "oxycodone",
    "quetiapine",
    "warfarin",
    "methotrexate",
)
ORIENTATIONS = ("gay", "lesbian", "bisexual", "transgender", "in a same-sex relationship")
RELIGIONS = (
    "a practising Muslim",
    "Jewish",
    "a devout Catholic",
    "Hindu",
    "Sikh",
    "a Jehovah's Witness",
    "Buddhist",
    "an evangelical Christian",
)
RELATIONS = (
    "my wife",
    "my husband",
    "my son",
    "my daughter",
    "my mother",
    "my colleague",
    "my brother",
    "my employee",
    "our tenant",
)


class Person:
    def __init__(self, r: random.Random) -> None:
        self.first, self.last = r.choice(FIRST), r.choice(LAST)
        self.full = f"{self.first} {self.last}"
        self.titled = f"{r.choice(TITLES)} {self.last}"
