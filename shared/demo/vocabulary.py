"""The words demo data is made of: industries, US cities, people, and review sentences.

The tenants of the demo are local-marketing agencies; their accounts are the local
businesses they prospect and serve (the spec's "dentists near Austin"). Review sentences
are written so VADER scores them in the direction of their star rating: positive ones
clearly positive, negative ones clearly negative, neutral ones factual (compound near 0).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CITIES",
    "FIRST_NAMES",
    "INDUSTRIES",
    "LAST_NAMES",
    "NEGATIVE_REVIEWS",
    "NEUTRAL_REVIEWS",
    "OWNER_RESPONSES",
    "POSITIVE_REVIEWS",
    "SALES_REPS",
    "SERVICES_SOLD",
    "STREETS",
    "TENANT_NAMES",
    "City",
    "Industry",
]


@dataclass(frozen=True)
class Industry:
    key: str
    weight: float  # relative share of accounts
    categories: tuple[str, ...]  # Google Business Profile categories; the first is primary
    name_patterns: tuple[str, ...]  # {last}, {last2}, {city}, {word} are filled in
    services: tuple[str, ...]  # what their own customers buy, for review sentences
    contact_titles: tuple[str, ...]
    monthly_fee: tuple[int, int]  # what the agency bills them a month, USD
    hours: str  # "weekday" | "extended" | "office"


INDUSTRIES: tuple[Industry, ...] = (
    Industry(
        "dentist",
        3.0,
        ("Dentist", "Cosmetic dentist", "Pediatric dentist", "Dental clinic"),
        ("{last} Family Dentistry", "{city} Smiles", "{word} Dental Care", "{word} Dental Studio"),
        ("cleaning", "crown", "root canal", "whitening", "filling"),
        ("Practice Manager", "Office Manager", "Owner, DDS"),
        (600, 2400),
        "weekday",
    ),
    Industry(
        "hvac",
        2.5,
        ("HVAC contractor", "Air conditioning repair service", "Heating contractor"),
        ("{last} Heating & Air", "{word} Comfort HVAC", "{city} Air Pros", "{last} Mechanical"),
        ("AC repair", "furnace install", "tune-up", "duct cleaning", "thermostat install"),
        ("Owner", "Operations Manager", "Dispatcher"),
        (500, 2000),
        "extended",
    ),
    Industry(
        "business_consultant",
        2.0,
        ("Business management consultant", "Consultant", "Marketing consultant"),
        ("{last} Advisory Group", "{word} Strategy Partners", "{last} & {last2} Consulting"),
        ("strategy session", "business plan", "workshop", "pricing review"),
        ("Managing Partner", "Principal", "Founder"),
        (400, 1800),
        "office",
    ),
    Industry(
        "plumber",
        1.5,
        ("Plumber", "Drainage service", "Water heater installation service"),
        ("{last} Plumbing", "{word} Pipe & Drain", "{city} Rooter", "{last} Plumbing Co."),
        ("water heater", "drain cleaning", "pipe repair", "repiping"),
        ("Owner", "Office Manager", "Service Manager"),
        (400, 1600),
        "extended",
    ),
    Industry(
        "law_firm",
        1.2,
        ("Law firm", "Personal injury attorney", "Estate planning attorney"),
        ("{last} & {last2} LLP", "{last} Law Group", "{word} Legal", "{last} Law Office"),
        ("consultation", "contract review", "estate plan", "case"),
        ("Managing Partner", "Office Administrator", "Attorney"),
        (900, 3500),
        "office",
    ),
    Industry(
        "med_spa",
        1.0,
        ("Medical spa", "Skin care clinic", "Laser hair removal service"),
        ("{word} Aesthetics", "{city} Med Spa", "{word} Skin Studio", "{last} Aesthetics"),
        ("facial", "botox appointment", "laser treatment", "peel"),
        ("Spa Director", "Owner", "Front Desk Lead"),
        (700, 2800),
        "extended",
    ),
    Industry(
        "roofing",
        1.0,
        ("Roofing contractor", "Gutter cleaning service"),
        ("{last} Roofing", "{word} Roof Pros", "{city} Roofing & Exteriors"),
        ("roof inspection", "shingle replacement", "roof repair", "gutter install"),
        ("Owner", "Estimator", "Office Manager"),
        (600, 2500),
        "weekday",
    ),
    Industry(
        "chiropractor",
        0.8,
        ("Chiropractor", "Sports massage therapist"),
        ("{last} Chiropractic", "{word} Spine & Wellness", "{city} Chiropractic Center"),
        ("adjustment", "first visit", "massage", "x-ray"),
        ("Clinic Director", "Office Manager", "Owner, DC"),
        (400, 1500),
        "weekday",
    ),
    Industry(
        "auto_repair",
        0.8,
        ("Auto repair shop", "Brake shop", "Oil change service"),
        ("{last} Auto Care", "{word} Automotive", "{city} Tire & Auto"),
        ("brake job", "oil change", "inspection", "transmission repair"),
        ("Owner", "Service Advisor", "Shop Manager"),
        (350, 1400),
        "extended",
    ),
)


@dataclass(frozen=True)
class City:
    name: str
    region: str  # US state
    area_code: str
    zip_prefix: str
    weight: float


CITIES: tuple[City, ...] = (
    City("Austin", "TX", "512", "787", 3.0),
    City("Denver", "CO", "303", "802", 2.5),
    City("Phoenix", "AZ", "602", "850", 2.5),
    City("Dallas", "TX", "214", "752", 2.0),
    City("Houston", "TX", "713", "770", 2.0),
    City("San Antonio", "TX", "210", "782", 1.5),
    City("Nashville", "TN", "615", "372", 1.5),
    City("Charlotte", "NC", "704", "282", 1.5),
    City("Atlanta", "GA", "404", "303", 1.5),
    City("Tampa", "FL", "813", "336", 1.2),
    City("Orlando", "FL", "407", "328", 1.2),
    City("Raleigh", "NC", "919", "276", 1.0),
    City("Columbus", "OH", "614", "432", 1.0),
    City("Indianapolis", "IN", "317", "462", 1.0),
    City("Kansas City", "MO", "816", "641", 1.0),
    City("Salt Lake City", "UT", "801", "841", 1.0),
    City("Las Vegas", "NV", "702", "891", 1.0),
    City("Portland", "OR", "503", "972", 1.0),
    City("Seattle", "WA", "206", "981", 1.0),
    City("San Diego", "CA", "619", "921", 1.0),
    City("Sacramento", "CA", "916", "958", 0.8),
    City("Minneapolis", "MN", "612", "554", 0.8),
    City("Boise", "ID", "208", "837", 0.6),
    City("Scottsdale", "AZ", "480", "852", 0.6),
)

FIRST_NAMES = (
    "James", "Maria", "Robert", "Jennifer", "Michael", "Linda", "David", "Patricia", "Carlos",
    "Susan", "Daniel", "Jessica", "Matthew", "Sarah", "Anthony", "Karen", "Mark", "Nancy",
    "Luis", "Lisa", "Steven", "Betty", "Andrew", "Ashley", "Joshua", "Emily", "Kevin", "Priya",
    "Brian", "Michelle", "Jason", "Amanda", "Ryan", "Melissa", "Eric", "Stephanie", "Wei",
    "Rebecca", "Omar", "Laura", "Tyler", "Hannah", "Diego", "Grace", "Nathan", "Olivia",
)  # fmt: skip

LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore",
    "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark",
    "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott",
    "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall",
    "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Patel", "Kim", "Chen", "Shah",
)  # fmt: skip

NAME_WORDS = (
    "Summit", "Bright", "Lone Star", "Evergreen", "Pinnacle", "Desert", "Front Range", "Oak",
    "Cedar", "Blue Sky", "Golden", "Premier", "Riverbend", "Canyon", "Northside", "Trusted",
    "Reliable", "Heritage", "Modern", "Mesa", "Hill Country", "Clearwater", "Ironwood",
)  # fmt: skip

STREETS = (
    "Main", "Oak", "Congress", "Lamar", "Colfax", "Camelback", "Elm", "Maple", "Broadway",
    "Washington", "Lincoln", "Park", "Cedar", "Lakeview", "Sunset", "Highland", "Mill",
    "Ridge", "Willow", "Spring", "Market", "Central", "Burnet", "Speer", "Indian School",
)  # fmt: skip
STREET_KINDS = ("St", "Ave", "Blvd", "Rd", "Dr", "Pkwy", "Ln")

# Tenants after the first ("demo"): the agencies a hosted Switchboard would serve.
TENANT_NAMES = (
    "Summit Growth Partners",
    "Lone Star Local Marketing",
    "Front Range Digital",
    "Harbor Lane Agency",
    "Desert Bloom Media",
    "Blue Ridge Outreach",
    "Northwind Lead Co",
    "Cedar & Pine Marketing",
    "Brightpath Local",
    "Copperline Growth",
)

SALES_REPS = (
    "maria.garcia", "james.wilson", "priya.shah", "tyler.nguyen", "ashley.king", "omar.hassan",
    "grace.kim", "diego.flores",
)  # fmt: skip

# What the agency sells: deal titles and transaction descriptions.
SERVICES_SOLD = (
    ("Local SEO package", "Monthly local SEO retainer"),
    ("Google Ads management", "Google Ads management fee"),
    ("Review management plan", "Review management subscription"),
    ("Website refresh", "Website refresh milestone"),
    ("Social media plan", "Social media management"),
    ("Google Business Profile optimisation", "GBP optimisation retainer"),
)

POSITIVE_REVIEWS = (
    "Absolutely wonderful experience! The {service} was quick and the staff were friendly "
    "and professional. Highly recommend.",
    "Best {kind} in {city}. Great communication, fair price, and excellent work on my "
    "{service}. Thank you!",
    "I love this place. Everyone is kind, helpful and honest. My {service} went perfectly.",
    "Fantastic team! They explained everything clearly and the {service} was done right the "
    "first time. Five stars.",
    "Super happy with the {service}. Friendly, on time, and very clean work. Will definitely "
    "come back.",
    "Great service and amazing people. They made the {service} easy and stress free.",
)

NEGATIVE_REVIEWS = (
    "Terrible service. They were late, rude, and the {service} was overpriced. Would not "
    "recommend.",
    "Awful experience. Nobody returned my calls and the {service} had to be redone. Very "
    "disappointed.",
    "Worst {kind} I have dealt with. Hidden fees, poor communication, and a sloppy {service}.",
    "Horrible. Waited two hours, then they cancelled my {service}. Unprofessional and frustrating.",
    "Not happy at all. The {service} failed after a week and they refused to help. Avoid.",
    "Bad customer service and a rude front desk. The {service} was a waste of money.",
)

NEUTRAL_REVIEWS = (
    "Went in for my {service}. The appointment started on time and took about an hour.",
    "They came out on a Tuesday for the {service}. The invoice arrived the next week.",
    "The office is on the second floor. Parking is in the back. Had my {service} done.",
    "Booked my {service} online and they called the same day to confirm the time.",
    "Third visit here, this time for my {service}. Paid by card at the front desk.",
)

OWNER_RESPONSES = (
    "Thank you for taking the time to share this. We're glad you had a good visit!",
    "We're sorry to hear about your experience. Please call our office so we can make it right.",
    "Thanks for the feedback; we've shared it with the team.",
)
