"""Words the typed claim check knows: places and the country each is in, industries, roles.

Small on purpose: a place or an industry the lists do not know is simply not read as a
claim of that type (the generic name check still sees capitalised words).
"""

from __future__ import annotations

import re
from functools import lru_cache

# country code: names and codes a lead's country field may hold (matched case-insensitively),
# then words a draft may use for the country or places in it (matched as written).
_COUNTRIES: dict[str, tuple[str, str]] = {
    "US": ("us|usa|u.s.|u.s.a.|united states|united states of america|america",
           "US|USA|U.S.|United States|America|American|New York|San Francisco|Chicago|Boston|"
           "Seattle|Austin|Los Angeles|Texas|California|Denver|Atlanta|Miami"),
    "GB": ("gb|uk|u.k.|united kingdom|great britain|britain|england|scotland|wales",
           "UK|U.K.|United Kingdom|Britain|Great Britain|British|England|English|Scotland|"
           "Scottish|Wales|London|Manchester|Edinburgh|Birmingham|Glasgow|Leeds|Bristol"),
    "DE": ("de|deu|germany|deutschland",
           "Germany|German|Berlin|Munich|München|Hamburg|Frankfurt|Cologne|Köln|Stuttgart|"
           "Hannover|Hanover|Düsseldorf|Leipzig|Bavaria"),
    "FR": ("fr|fra|france", "France|French|Paris|Lyon|Marseille|Toulouse|Lille|Bordeaux"),
    "JP": ("jp|jpn|japan", "Japan|Japanese|Tokyo|Osaka|Kyoto|Yokohama"),
    "CA": ("ca|can|canada", "Canada|Canadian|Toronto|Vancouver|Montreal|Ottawa|Calgary"),
    "NL": ("nl|nld|netherlands|the netherlands|holland",
           "Netherlands|Holland|Dutch|Amsterdam|Rotterdam|Utrecht|The Hague|Eindhoven"),
    "IT": ("it|ita|italy|italia", "Italy|Italian|Rome|Milan|Turin|Naples|Florence|Bologna"),
    "ES": ("es|esp|spain|españa", "Spain|Spanish|Madrid|Barcelona|Valencia|Seville|Bilbao"),
    "AT": ("at|aut|austria|österreich", "Austria|Austrian|Vienna|Salzburg|Graz|Linz"),
    "CH": ("ch|che|switzerland|schweiz|suisse", "Switzerland|Swiss|Zurich|Zürich|Geneva|Basel"),
    "BE": ("be|bel|belgium", "Belgium|Belgian|Brussels|Antwerp|Ghent"),
    "SE": ("se|swe|sweden", "Sweden|Swedish|Stockholm|Gothenburg|Malmö"),
    "NO": ("no|nor|norway", "Norway|Norwegian|Oslo|Bergen"),
    "DK": ("dk|dnk|denmark", "Denmark|Danish|Copenhagen|Aarhus"),
    "FI": ("fi|fin|finland", "Finland|Finnish|Helsinki"),
    "IE": ("ie|irl|ireland", "Ireland|Irish|Dublin|Cork"),
    "PT": ("pt|prt|portugal", "Portugal|Portuguese|Lisbon|Porto"),
    "PL": ("pl|pol|poland", "Poland|Warsaw|Krakow|Kraków"),
    "AU": ("au|aus|australia", "Australia|Australian|Sydney|Melbourne|Brisbane|Perth"),
    "NZ": ("nz|nzl|new zealand", "New Zealand|Auckland|Wellington"),
    "SG": ("sg|sgp|singapore", "Singapore"),
    "IN": ("in|ind|india", "India|Indian|Mumbai|Bangalore|Bengaluru|Delhi|Hyderabad|Pune"),
    "CN": ("cn|chn|china", "China|Chinese|Beijing|Shanghai|Shenzhen|Guangzhou"),
    "BR": ("br|bra|brazil|brasil", "Brazil|Brazilian|São Paulo|Sao Paulo|Rio de Janeiro"),
    "MX": ("mx|mex|mexico|méxico", "Mexico|Mexican|Mexico City|Monterrey|Guadalajara"),
    "AE": ("ae|are|uae|united arab emirates", "UAE|United Arab Emirates|Dubai|Abu Dhabi"),
    "ZA": ("za|zaf|south africa", "South Africa|Johannesburg|Cape Town"),
    "KR": ("kr|kor|south korea|korea", "South Korea|Korea|Korean|Seoul"),
    "IL": ("il|isr|israel", "Israel|Israeli|Tel Aviv"),
}
_REGIONS: dict[str, frozenset[str]] = {
    "Europe|European|EU|EMEA": frozenset(
        "GB DE FR NL IT ES AT CH BE SE NO DK FI IE PT PL".split()) | {"AE", "ZA", "IL"},
    "DACH": frozenset({"DE", "AT", "CH"}),
    "Nordics|Nordic|Scandinavia|Scandinavian": frozenset({"SE", "NO", "DK", "FI"}),
    "Benelux": frozenset({"BE", "NL"}),
    "North America|North American": frozenset({"US", "CA", "MX"}),
    "LATAM|Latin America": frozenset({"MX", "BR"}),
    "APAC|Asia|Asia-Pacific|Asian": frozenset({"JP", "SG", "IN", "CN", "AU", "NZ", "KR"}),
}

#: lowered name or code a lead's country field may hold -> country code
COUNTRY_BY_NAME: dict[str, str] = {
    name: code for code, (names, _) in _COUNTRIES.items() for name in names.split("|")
}
#: a place word as a draft writes it -> the country codes it may stand for
PLACES: dict[str, frozenset[str]] = {
    word: frozenset({code}) for code, (_, words) in _COUNTRIES.items() for word in words.split("|")
}
PLACES.update({word: codes for words, codes in _REGIONS.items() for word in words.split("|")})
PLACE_RE = re.compile(
    r"(?<![\w&-])(?:the\s+)?("
    + "|".join(re.escape(w) for w in sorted(PLACES, key=len, reverse=True))
    + r")(?![\w&-])"
)


def country_code(country: str) -> str:
    """A lead's country field as a code ("Germany", "de", "DEU" -> "DE"); "" when unknown."""
    return COUNTRY_BY_NAME.get(" ".join(country.lower().replace(".", ". ").split())
                               .replace(". ", ".").strip(), "")


# Industry families: name -> (its parent or "", strong terms, weak terms). A strong term
# names the industry on its own ("in logistics", "retailers"); a weak one only before a word
# for an organisation ("software companies"), since "tech leaders" or "finance teams" name a
# function, not an industry.
INDUSTRIES: dict[str, tuple[str, str, str]] = {
    "logistics": ("", "logistics|freight|transportation|trucking|carriers?|"
                  "couriers?|haulage|haulier|hauliers|supply chain|3pl",
                  "fleet|shipping|transport"),
    "software": ("", "saas", "software|tech|technology"),
    "retail": ("", "retail|retailers?|e-commerce|ecommerce|online retailers?|online shops?|"
               "shops|merchants?", "consumer|stores"),
    "healthcare": ("", "healthcare|health care|hospitals?|clinics?|medical|care providers?",
                   "health"),
    "pharma": ("", "pharma|pharmaceutical|biotech|life sciences", ""),
    "manufacturing": ("", "manufacturing|manufacturers?|industrial|factories|factory",
                      "production"),
    "financial": ("", "financial services|financial institutions?", "financial|finance"),
    "banking": ("financial", "banking|banks?|lenders?|credit unions?", ""),
    "insurance": ("financial", "insurance|insurers?", ""),
    "fintech": ("financial", "fintech|fintechs", "payments"),
    "food": ("", "food and beverage|food & beverage|food producers?|restaurants?|f&b",
             "food|beverage"),
    "education": ("", "education|edtech|schools?|universities|university", ""),
    "real_estate": ("", "real estate|property managers?|proptech", "property"),
    "hospitality": ("", "hospitality|hotels?", "travel"),
    "energy": ("", "utilities|oil and gas|renewables", "energy"),
    "telecom": ("", "telecoms?|telecommunications|carriers and isps", ""),
    "media": ("", "publishing|publishers?|broadcasters?", "media"),
    "construction": ("", "construction", "builders|contractors"),
    "automotive": ("", "automotive|car makers|dealerships?", ""),
    "agriculture": ("", "agriculture|farming|agritech", ""),
    "legal": ("", "law firms?|legal services", ""),
    "consulting": ("", "consulting|consultancies|consultancy|professional services", ""),
    "public": ("", "public sector|government|councils|municipalities", ""),
    "nonprofit": ("", "nonprofits?|non-profits?|charities|charity", ""),
}
ORG_NOUNS = (r"companies|company|firms?|businesses|business|organi[sz]ations?|brands?|vendors?|"
             r"providers?|players|groups|operators|startups|industry|sector|space|market|world")


@lru_cache(maxsize=1)
def industry_terms() -> tuple[tuple[str, str, bool], ...]:
    """(term, family, strong) for every term, longest first."""
    terms = [
        (term, family, strong)
        for family, (_, strong_terms, weak_terms) in INDUSTRIES.items()
        for strong, group in ((True, strong_terms), (False, weak_terms))
        for term in group.split("|") if term
    ]
    return tuple(sorted(terms, key=lambda t: len(t[0]), reverse=True))


@lru_cache(maxsize=256)
def industry_families(text: str) -> frozenset[str]:
    """Every family whose terms (strong or weak) occur in ``text`` (a lead's industry)."""
    lowered = f" {text.lower()} "
    found = set()
    for term, family, _ in industry_terms():
        if re.search(rf"(?<![\w-]){re.escape(term.rstrip('?'))}", lowered):
            found.add(family)
    return frozenset(found)


def ancestors(family: str) -> set[str]:
    """The family and every family above it."""
    out = {family}
    while (parent := INDUSTRIES[family][0]) and parent not in out:
        out.add(parent)
        family = parent
    return out


# Words that make a phrase a job title, and how short forms read in full.
ROLE_HEADS = frozenset(
    """ceo cfo cto coo cmo cio cro ciso cpo cso cdo vp svp evp avp chief head director manager
    founder co-founder cofounder owner president officer lead leader engineer analyst
    administrator admin partner coordinator specialist executive buyer consultant controller
    treasurer accountant architect principal md gm""".split()
)
ROLE_EXPANSIONS: dict[str, str] = {
    "ceo": "chief executive officer", "cfo": "chief financial officer",
    "cto": "chief technology officer", "coo": "chief operating officer",
    "cmo": "chief marketing officer", "cio": "chief information officer",
    "cro": "chief revenue officer", "ciso": "chief information security officer",
    "cpo": "chief product officer", "cso": "chief sales officer", "cdo": "chief data officer",
    "vp": "vice president", "svp": "senior vice president", "evp": "executive vice president",
    "avp": "assistant vice president", "md": "managing director", "gm": "general manager",
    "co-founder": "founder", "cofounder": "founder", "admin": "administrator",
    "it": "information technology", "hr": "human resources", "ops": "operations",
    "head": "lead", "leader": "lead", "financial": "finance", "operating": "operations",
    "operation": "operations", "technical": "technology", "tech": "technology",
    "engineering": "engineer", "procurement": "purchasing",
}
ROLE_FILLER = frozenset({"of", "and", "&", "the", "a", "an", "for", "senior", "sr", "sr.", "jr"})


def role_words(phrase: str) -> set[str]:
    """A job title as a set of canonical words ("CFO" and "Chief Financial Officer" agree)."""
    words: set[str] = set()
    for raw in re.findall(r"[a-z][a-z.&-]*", phrase.lower().replace("/", " ")):
        word = raw.strip(".")
        expanded = ROLE_EXPANSIONS.get(word, word)
        for part in expanded.split():
            part = ROLE_EXPANSIONS.get(part, part)
            if part not in ROLE_FILLER:
                words.add(part)
    return words
