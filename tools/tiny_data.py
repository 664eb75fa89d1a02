"""Data for tools/train_tiny.py: haystack text, needle templates, NIAH prompts, training batches, scoring.

No torch here (the batch workers import only this module, numpy and sentencepiece).

The NIAH prompt is hybridlens's base template (../shared/METHOD.md):
    "CONTEXT: {context}\\n\\nQUESTION: {question}\\n\\nANSWER: Here is the most relevant sentence in the context: "
and the model is trained to continue it with the needle sentence followed by EOS.  The prompt ends with a space,
so its last token is the bare "\u2581" piece and the answer's first word has no leading "\u2581" (exactly what
hybridlens sees when it tokenizes the prompt); a minority of training examples use the other split so that a
prompt without the trailing space works too.

Held out of training: every needle of data/needles.jsonl (their answers, partial-credit phrases and proper names
never occur in generated needles) and the paper's San Francisco needle.
"""

import json
import os
import random
import re

PROMPT_PREFIX = "CONTEXT: "
P_RANDOM_NEEDLE = 0.6  # share of training needles made of random haystack words (the rest: templates)
PROMPT_MIDDLE = "\n\nQUESTION: "
PROMPT_SUFFIX = "\n\nANSWER: Here is the most relevant sentence in the context: "
NOISE_SENTENCES = ["The grass is green.", "The sky is blue.", "The sun is yellow.", "Here we go.",
                   "There and back again."]
SF_NEEDLE = "The best thing to do in San Francisco is eat a sandwich and sit in Dolores Park on a sunny day."
SF_BANNED = ["san francisco", "dolores park", "eat a sandwich", "sit in dolores park"]

PAD_ID, EOS_ID, BOS_ID, UNK_ID = 0, 1, 2, 3


def niah_prompt(context, question, jrt=False):
    block = PROMPT_PREFIX + context + PROMPT_MIDDLE + question
    if jrt:
        block = block + "\n\n" + block
    return block + PROMPT_SUFFIX


# ---------------------------------------------------------------------------------------------------------------
# Haystack
# ---------------------------------------------------------------------------------------------------------------

_SENT_RE = re.compile(r"[^.!?]*[.!?]+")


def load_haystack(hay_dir):
    """-> list of documents; each document is a list of (separator_before, sentence); the separator is "" for
    the first sentence of a document, "\\n\\n" at a paragraph break, " " otherwise.  Joining reproduces the file
    text (less trailing whitespace)."""
    docs = []
    for fn in sorted(os.listdir(hay_dir)):
        if not fn.endswith(".txt"):
            continue
        with open(os.path.join(hay_dir, fn), encoding="utf-8") as f:
            text = f.read().strip()
        sents = []
        pos = 0
        for m in _SENT_RE.finditer(text):
            raw = text[pos:m.end()]
            pos = m.end()
            stripped = raw.lstrip()
            sep = raw[: len(raw) - len(stripped)]
            sep = "\n\n" if "\n" in sep else (" " if sep else "")
            if not sents:
                sep = ""
            if stripped:
                sents.append((sep, stripped))
        docs.append(sents)
    if not docs:
        raise RuntimeError("no .txt files in %s" % hay_dir)
    return docs


def haystack_sentences(docs):
    return [s for d in docs for _, s in d]


# ---------------------------------------------------------------------------------------------------------------
# Held-out needles
# ---------------------------------------------------------------------------------------------------------------

TITLES = ["Doctor", "Captain", "Professor", "Aunt", "Uncle", "Grandma", "Grandpa", "Chef", "Coach", "Judge",
          "Officer", "Nurse", "Mister", "Miss", "Sister", "Brother", "Farmer", "Mayor", "Sergeant", "Pastor"]


# capitalised words of held-out needles that are ordinary words elsewhere (not banned on their own)
COMMON_CAPITALISED = {"The", "Lake", "October", "Silver", "Harbor", "Tuesdays"}


def load_heldout(path):
    recs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                recs.append(json.loads(line))
    return recs


def norm_text(s):
    s = s.lower()
    s = re.sub(r"[^a-z0-9 ]+", " ", s)
    return re.sub(r"\s+", " ", s).strip()


def banned_phrases(heldout):
    """Normalised phrases that no training needle or question may contain."""
    out = set(SF_BANNED)
    for r in heldout:
        out.add(norm_text(r["answer"]))
        for ph, _ in r.get("partial", []):
            out.add(norm_text(ph))
        words = r["needle"].split()
        for w in words[1:]:
            w2 = re.sub(r"[^A-Za-z]", "", w.split("'")[0])
            if w2 and w2[0].isupper() and w2 not in TITLES and w2 not in COMMON_CAPITALISED:
                out.add(norm_text(w2))
        out.add(norm_text(r["question"]))
        out.add(norm_text(r["needle"]))
    return sorted(p for p in out if p)


class Banned:
    def __init__(self, phrases):
        self.phrases = phrases
        self.rx = re.compile(r"\b(" + "|".join(re.escape(p) for p in phrases) + r")\b") if phrases else None

    def hit(self, text):
        return bool(self.rx and self.rx.search(norm_text(text)))


# ---------------------------------------------------------------------------------------------------------------
# Needle templates (training).  Fill lists are generic; held-out material is filtered out by Banned.
# ---------------------------------------------------------------------------------------------------------------

FIRST = ["Al", "Bre", "Cor", "Da", "El", "Fen", "Gar", "Hol", "Is", "Jo", "Kal", "Lo", "Mar", "Ned", "Ol", "Pra",
         "Quin", "Ros", "Sel", "Tam", "Ul", "Ver", "Wil", "Yar", "Zel", "Bal", "Cas", "Dor", "Ev", "Fal", "Gil",
         "Har", "Ion", "Jas", "Ker", "Lin", "Mel", "Nor", "Or", "Pel", "Rin", "Sten", "Tor", "Val", "Wen", "Bri"]
MID = ["a", "e", "i", "o", "u", "an", "en", "in", "on", "ar", "er", "or", "el", "il", "ol", "ad", "ed", "ro", "la"]
LAST = ["n", "ra", "lo", "na", "ck", "th", "ssa", "via", "ton", "ley", "mon", "sin", "dra", "ric", "va", "x", "s",
        "ld", "rt", "nna", "ber", "win", "ny", "sa", "lia"]
NAMES = ["Alice", "Bruno", "Cecilia", "Dmitri", "Edith", "Franco", "Greta", "Hugo", "Ines", "Jonas", "Kira",
         "Lars", "Marta", "Nils", "Odile", "Pablo", "Quentin", "Rita", "Stefan", "Talia", "Ulla", "Viktor",
         "Wanda", "Xavier", "Yusuf", "Zora", "Amir", "Beatrix", "Cyrus", "Dagny", "Emeka", "Farah", "Gideon",
         "Helga", "Imre", "Jules", "Kenji", "Leona", "Magnus", "Nadia", "Otto", "Priya", "Rufus", "Selma",
         "Tobias", "Uma", "Vera", "Walter", "Yara", "Zeno", "Agnes", "Basil", "Corin", "Delia", "Ezra", "Flora"]
PLACE_FORMS = ["{n}ville", "{n}ford", "Lake {n}", "{n} Valley", "Port {n}", "Mount {n}", "{n} Bay", "{n}bury",
               "New {n}", "{n} Falls", "{n} Harbour", "Fort {n}", "{n}wick", "{n} Springs", "East {n}", "{n}dale"]
COLORS = ["red", "blue", "green", "yellow", "purple", "orange", "black", "white", "brown", "pink", "gray",
          "golden", "silver", "violet", "crimson", "amber", "teal", "scarlet"]
ANIMALS = ["fox", "owl", "badger", "crane", "wolf", "hare", "falcon", "beaver", "lynx", "swan", "raven",
           "tortoise", "goat", "pony", "donkey", "rooster", "sparrow", "eagle", "bear", "moose", "lark"]
OBJECTS = ["lantern", "map", "notebook", "violin", "hammer", "ring", "clock", "telescope", "scarf", "camera",
           "umbrella", "medal", "letter", "bell", "kettle", "mirror", "basket", "chess set", "silver spoon",
           "wooden box", "brass key", "old diary", "blue jar", "teapot", "harmonica", "paintbrush", "pocket watch",
           "fishing rod", "tin whistle", "leather bag", "candlestick", "music box", "spare ticket", "flashlight"]
CONTAINERS = ["chest", "drawer", "cabinet", "locker", "trunk", "box", "case", "suitcase", "vault", "cupboard"]
LOCATIONS = ["under the kitchen sink", "behind the old clock", "in the attic above the stairs",
             "inside the red barn", "beneath the oak tree", "on the top shelf of the pantry",
             "in a drawer of the writing desk", "under the loose floorboard", "behind the blue curtain",
             "in the cellar next to the wine rack", "inside the hollow log", "under the porch steps",
             "in the glove box of the van", "on the roof of the boathouse", "next to the chimney",
             "in the back of the bakery van", "under the bridge by the mill", "inside the broken piano",
             "in the east wing of the school", "behind the stack of firewood", "in a tin under the bed",
             "at the bottom of the well", "in the pocket of the green coat", "under the garden bench",
             "inside the church organ", "on the windowsill of the study", "in the hayloft of the stable"]
FOODS = ["apple pie", "lentil soup", "fresh bread", "roast chicken", "pancakes", "blueberry muffins",
         "potato salad", "fish stew", "lemon tart", "honey cake", "rice pudding", "mushroom pie", "corn bread",
         "plum jam", "cheese scones", "tomato soup", "carrot cake", "ginger biscuits", "walnut bread"]
INGREDIENTS = ["a pinch of nutmeg", "two spoons of honey", "a handful of fresh mint", "a dash of lime juice",
               "a slice of ginger", "a cup of strong coffee", "a little orange zest", "three crushed cloves",
               "a drop of vanilla", "a splash of apple cider", "some toasted sesame", "a spoon of mustard",
               "a few dried cherries", "a sprig of rosemary", "a bit of dark chocolate", "a pinch of sea salt"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
NUMWORDS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
ACTIVITIES = ["climb the north ridge at sunrise", "swim in the cold lake before breakfast",
              "ride a bicycle along the old canal", "eat grilled fish at the night market",
              "watch the sunset from the lighthouse hill", "visit the glass museum on a quiet morning",
              "rent a small boat and row to the island", "walk through the tulip fields in April",
              "listen to the street musicians by the station", "drink hot cider in the main square",
              "hike to the waterfall and have a picnic", "take the cable car to the summit",
              "explore the caves with a local guide", "buy warm pretzels at the corner bakery",
              "sit on the harbour wall and feed the gulls", "skate on the frozen pond after dark",
              "read a book in the rose garden", "join the folk dance on Saturday night",
              "try the plum dumplings at the river inn", "count the stars from the top of the dunes"]
PASSWORDS = ["green lantern at noon", "seven silver foxes", "orange moon over water", "the owl sleeps late",
             "purple kettle and tea", "winter wolf by the door", "copper bells ring twice", "quiet river stone",
             "north wind and rain", "tall grass in July", "bright comet at dusk", "old oak leaf",
             "yellow boat on the lake", "three crows on a fence", "amber light in the hall"]
VEHICLES = ["bus", "ferry", "train", "coach", "tram", "night bus", "boat", "express train"]
STOPS = ["platform four", "the east gate", "pier two", "the main square", "stand eleven", "the old depot",
         "platform twelve", "the north entrance", "gate six", "the clock tower stop"]
CLOCKTIMES = ["six thirty", "eight forty", "nine o'clock", "noon", "half past two", "ten to five",
              "quarter past eight", "five fifty", "eleven twenty", "midnight", "seven o'clock", "four fifteen"]
SHOPS = ["bookshop", "flower stall", "cheese shop", "bicycle shop", "pharmacy", "toy shop", "tea room",
         "hardware store", "fish market", "record shop", "barber shop", "post office", "ice cream parlor"]
STREETS = ["Elm Street", "Mill Lane", "Station Road", "Cherry Avenue", "King Street", "Bridge Road",
           "Church Lane", "Market Street", "High Street", "Willow Way", "Park Road", "Fisher Lane"]
EVENTS = ["summer parade", "harvest festival", "school concert", "boat race", "night market", "chess tournament",
          "flower show", "winter carnival", "village dance", "kite festival", "book fair", "lantern walk"]
CONDITIONS = ["the last boat returns to the harbour", "the church bell rings noon",
              "the mayor lights the first lantern", "the sun touches the hills", "the drummers reach the square",
              "the old mill wheel starts turning", "the baker rings the bell twice", "the swans leave the pond",
              "the band plays the first note", "the tide reaches the third post"]
RELATIONS = ["grandfather", "first teacher", "oldest friend", "mother", "favorite aunt", "childhood cat",
             "brother", "first horse", "old neighbor"]
ADJ_NAME = ["Silver", "Golden", "Swift", "Quiet", "Brave", "Little", "Lucky", "Wandering", "Northern", "Happy"]
CATEGORIES = [("color", COLORS), ("food", FOODS), ("animal", ANIMALS), ("month", MONTHS), ("day", DAYS),
              ("instrument", ["cello", "banjo", "trumpet", "harp", "accordion", "flute", "drum", "piano"]),
              ("flower", ["tulip", "daisy", "poppy", "lily", "orchid", "sunflower", "violet", "lavender"])]
ROOMS = ["library", "kitchen", "music room", "attic", "greenhouse", "basement", "boathouse", "east hall",
         "chapel", "study", "garage", "old stable"]
BUILDINGS = ["town hall", "museum", "old school", "castle", "community center", "railway station", "hotel",
             "church", "observatory", "art gallery"]
CLUBS = ["chess club", "choir", "book club", "rowing club", "garden society", "film club", "knitting circle",
         "astronomy club", "hiking group", "drama society"]
PETS = ["cat", "dog", "parrot", "rabbit", "tortoise", "goldfish", "hamster", "pony", "goat", "ferret"]
RECOMMEND = ["drinking a glass of water every hour", "sleeping eight hours every night",
             "stretching for ten minutes each morning", "eating an apple before lunch",
             "taking a short walk after every meal", "reading aloud for twenty minutes a day",
             "resting the eyes every half hour", "swimming twice a week", "going to bed before ten",
             "eating soup on cold evenings", "laughing at least once a day", "keeping a small diary"]
DESCRIPTIONS = ["a black stallion named {n}", "a small white pony called {n}", "a spotted goat named {n}",
                "a brown hen called {n}", "an old gray donkey named {n}", "a young red cow called {n}"]
YEARS = [str(y) for y in range(1820, 2021, 3)]


def syllable_name(rng):
    s = rng.choice(FIRST) + rng.choice(MID) * rng.randint(0, 1) + rng.choice(LAST)
    return s[0].upper() + s[1:].lower()


def person_name(rng):
    return rng.choice(NAMES) if rng.random() < 0.5 else syllable_name(rng)


def place_name(rng):
    return rng.choice(PLACE_FORMS).format(n=syllable_name(rng))


def titled(rng):
    return rng.choice(TITLES) + " " + (syllable_name(rng) if rng.random() < 0.6 else rng.choice(NAMES))


def digits(rng, n):
    return str(rng.randint(10 ** (n - 1), 10 ** n - 1))


def _pron(rng):
    return rng.choice(["her", "his"])


def needle_templates():
    """Each maker: rng -> (needle sentence, question)."""
    T = []

    def add(f):
        T.append(f)
        return f

    @add
    def best_thing(r):
        p = place_name(r)
        return "The best thing to do in %s is %s." % (p, r.choice(ACTIVITIES)), \
            "What is the best thing to do in %s?" % p

    @add
    def magic_number(r):
        x = r.choice(["the %s project" % syllable_name(r), place_name(r), "the %s %s" % (r.choice(COLORS), r.choice(OBJECTS)),
                      person_name(r)])
        return "The magic number for %s is %s." % (x, digits(r, r.choice([4, 5, 5, 6]))), \
            "What is the magic number for %s?" % x

    @add
    def keeps(r):
        who = r.choice([titled(r), person_name(r), "the %s" % r.choice(BUILDINGS), "the %s" % r.choice(CLUBS)])
        obj = "the %s %s" % (r.choice(COLORS), r.choice(OBJECTS)) if r.random() < 0.6 else "%s %s" % (
            r.choice(["her", "his", "the"]), r.choice(OBJECTS))
        loc = r.choice(LOCATIONS)
        return "%s keeps %s %s." % (who[0].upper() + who[1:], obj, loc), \
            "Where does %s keep %s?" % (who, obj)

    @add
    def password(r):
        x = r.choice(["the %s %s" % (r.choice(["old", "new", "north", "east", "small"]), r.choice(BUILDINGS)),
                      "the %s of %s" % (r.choice(ROOMS), place_name(r)), "%s's %s" % (person_name(r), r.choice(CONTAINERS))])
        return "The password to %s is %s." % (x, r.choice(PASSWORDS)), "What is the password to %s?" % x

    @add
    def ingredient(r):
        who = r.choice([titled(r), person_name(r)])
        food = r.choice(FOODS)
        return "The special touch in %s's %s is %s." % (who, food, r.choice(INGREDIENTS)), \
            "What is the special touch in %s's %s?" % (who, food)

    @add
    def vehicle(r):
        v, town = r.choice(VEHICLES), place_name(r)
        return "The %s to %s leaves from %s at %s." % (v, town, r.choice(STOPS), r.choice(CLOCKTIMES)), \
            "Where and when does the %s to %s leave?" % (v, town)

    @add
    def recommends(r):
        who = titled(r)
        return "%s recommends %s." % (who, r.choice(RECOMMEND)), "What does %s recommend?" % who

    @add
    def winner(r):
        a, ev = r.choice(["horse", "goat", "cow", "hen", "pony", "donkey"]), r.choice(EVENTS)
        return "The winning %s at the %s was %s." % (a, ev, r.choice(DESCRIPTIONS).format(n=syllable_name(r))), \
            "Which %s won at the %s?" % (a, ev)

    @add
    def hidden(r):
        obj = "%s %s" % (r.choice(["lost", "spare", "missing", "stolen", "old"]), r.choice(OBJECTS))
        return "The %s was hidden %s." % (obj, r.choice(LOCATIONS)), "Where was the %s hidden?" % obj

    @add
    def named_vehicle(r):
        who, pr = titled(r), _pron(r)
        v = r.choice(["boat", "ship", "bicycle", "car", "horse", "kite", "balloon"])
        return "%s named %s %s the %s %s after %s %s." % (who, pr, v, r.choice(ADJ_NAME),
                                                          r.choice(ANIMALS).capitalize(), pr, r.choice(RELATIONS)), \
            "What did %s name %s %s?" % (who, pr, v)

    @add
    def sells(r):
        shop = "the %s %s" % (r.choice(["village", "corner", "old", "little", "harbour"]), r.choice(SHOPS))
        food = r.choice(FOODS)
        when = r.choice(["only on %s %ss" % (r.choice(["sunny", "snowy", "windy", "foggy", "quiet"]), r.choice(DAYS)),
                         "every %s morning" % r.choice(DAYS), "only in %s" % r.choice(MONTHS),
                         "after %s every %s" % (r.choice(CLOCKTIMES), r.choice(DAYS))])
        return "%s sells %s %s." % (shop[0].upper() + shop[1:], food, when), "When does %s sell %s?" % (shop, food)

    @add
    def code(r):
        x = "the %s %s" % (r.choice(COLORS), r.choice(CONTAINERS))
        return "The code to open %s is %s." % (x, digits(r, r.choice([3, 4, 4, 5]))), "What is the code to open %s?" % x

    @add
    def begins(r):
        ev = "the %s %s" % (r.choice(["village", "spring", "autumn", "midsummer", "harbour"]), r.choice(EVENTS))
        return "%s begins when %s." % (ev[0].upper() + ev[1:], r.choice(CONDITIONS)), "When does %s begin?" % ev

    @add
    def best_time(r):
        p = place_name(r)
        when = r.choice(["late %s when the %s bloom" % (r.choice(MONTHS), r.choice(["roses", "lilies", "poppies", "tulips"])),
                         "early %s before the crowds arrive" % r.choice(MONTHS),
                         "in %s when the %s return" % (r.choice(MONTHS), r.choice(["swans", "storks", "whales", "geese"])),
                         "on a %s morning in %s" % (r.choice(["clear", "misty", "cold", "warm"]), r.choice(MONTHS))])
        return "The best time to visit %s is %s." % (p, when), "When is the best time to visit %s?" % p

    @add
    def favorite(r):
        who = person_name(r)
        cat, items = r.choice(CATEGORIES)
        return "%s's favorite %s is %s." % (who, cat, r.choice(items)), "What is %s's favorite %s?" % (who, cat)

    @add
    def painted(r):
        obj, who = r.choice(OBJECTS + ["front door", "fence", "boat", "bicycle"]), person_name(r)
        c1, c2 = r.sample(COLORS, 2)
        return "The %s of %s is painted %s and %s." % (obj, who, c1, c2), "What color is the %s of %s?" % (obj, who)

    @add
    def meeting(r):
        who = r.choice([person_name(r), titled(r)])
        return "The meeting with %s is on %s at %s." % (who, r.choice(DAYS), r.choice(CLOCKTIMES)), \
            "When is the meeting with %s?" % who

    @add
    def born(r):
        who = person_name(r)
        return "%s was born in %s in the year %s." % (who, place_name(r), r.choice(YEARS)), \
            "Where and when was %s born?" % who

    @add
    def capital(r):
        isl = syllable_name(r)
        return "The capital of the island of %s is %s." % (isl, place_name(r)), \
            "What is the capital of the island of %s?" % isl

    @add
    def hid(r):
        who, obj = person_name(r), r.choice(OBJECTS)
        return "%s hid the %s behind the %s in the %s." % (who, obj, r.choice(OBJECTS), r.choice(ROOMS)), \
            "Where did %s hide the %s?" % (who, obj)

    @add
    def opens(r):
        shop, st = r.choice(SHOPS), r.choice(STREETS)
        return "The %s on %s opens at %s every %s." % (shop, st, r.choice(CLOCKTIMES), r.choice(DAYS)), \
            "When does the %s on %s open?" % (shop, st)

    @add
    def fastest(r):
        p = place_name(r)
        route = r.choice(["the coastal road past the %s" % r.choice(BUILDINGS), "the ferry from %s" % place_name(r),
                          "the footpath along the %s river" % syllable_name(r), "the old railway through %s" % place_name(r)])
        return "The fastest way to %s is %s." % (p, route), "What is the fastest way to %s?" % p

    @add
    def pet(r):
        who, pet = person_name(r), r.choice(PETS)
        return "%s's %s is called %s and loves %s." % (who, pet, syllable_name(r), r.choice(FOODS)), \
            "What is %s's %s called?" % (who, pet)

    @add
    def special_number(r):
        who = r.choice([person_name(r), titled(r)])
        return "The special number of %s is %s." % (who, digits(r, r.choice([2, 3, 4, 5]))), \
            "What is the special number of %s?" % who

    @add
    def treasure(r):
        p = place_name(r)
        return "The treasure of %s lies %s." % (p, r.choice(LOCATIONS)), "Where does the treasure of %s lie?" % p

    @add
    def reach(r):
        p = place_name(r)
        return "To reach %s, turn left at the %s and walk %s miles." % (p, r.choice(BUILDINGS), r.choice(NUMWORDS)), \
            "How do you reach %s?" % p

    @add
    def orders(r):
        who, shop = person_name(r), r.choice(["cafe", "tea room", "diner", "inn", "bakery"])
        st = r.choice(STREETS)
        return "%s always orders %s at the %s on %s." % (who, r.choice(FOODS), shop, st), \
            "What does %s always order at the %s on %s?" % (who, shop, st)

    @add
    def club(r):
        c = "the %s %s" % (syllable_name(r), r.choice(CLUBS))
        return "%s meets every %s in the %s of the %s." % (c[0].upper() + c[1:], r.choice(DAYS), r.choice(ROOMS),
                                                          r.choice(BUILDINGS)), "Where and when does %s meet?" % c

    @add
    def room_number(r):
        who = titled(r)
        return "The room number of %s is %s." % (who, digits(r, r.choice([2, 3, 3, 4]))), \
            "What is the room number of %s?" % who

    @add
    def built(r):
        inst, b = r.choice(["organ", "clock", "bell", "fountain", "statue", "window"]), r.choice(BUILDINGS)
        return "The %s in the %s was built by %s in %s." % (inst, b, titled(r), r.choice(YEARS)), \
            "Who built the %s in the %s?" % (inst, b)

    @add
    def lives(r):
        who = r.choice([titled(r), person_name(r)])
        return "%s lives in the %s house at the end of %s." % (who, r.choice(COLORS), r.choice(STREETS)), \
            "Where does %s live?" % who

    @add
    def trick(r):
        who = person_name(r)
        pet = r.choice(PETS)
        return "%s taught the %s to %s." % (who, pet, r.choice(["ring a small bell", "open the back door",
                                                               "fetch the morning paper", "dance on two legs",
                                                               "count to five", "find lost socks"])), \
            "What did %s teach the %s?" % (who, pet)

    @add
    def planted(r):
        who = r.choice([titled(r), person_name(r)])
        return "%s planted %s %s trees %s." % (who, r.choice(NUMWORDS), r.choice(["apple", "cherry", "walnut", "plum", "pear"]),
                                               r.choice(LOCATIONS[:6] + ["along the river", "behind the chapel"])), \
            "What did %s plant?" % who

    return T


def word_list(docs):
    """Lower-case alphabetic words of the haystack (3..12 letters), sorted: the material of random needles."""
    words = set()
    for s in haystack_sentences(docs):
        for w in re.findall(r"[A-Za-z]+", s):
            if 3 <= len(w) <= 12 and w.islower():
                words.add(w)
    return sorted(words)


class NeedleWords:
    """The words of random needles: haystack words, and with probability p_piece a pseudo-word glued from random
    alphabetic pieces of the tokenizer (a word-start piece plus 0-2 continuations), so that copying is trained on
    every piece and not only on the pieces of common words (held-out needles hold rare words)."""

    def __init__(self, words, sp=None, p_piece=0.0):
        self.words = words
        self.p_piece = p_piece if sp is not None else 0.0
        self.starts, self.conts = [], []
        if sp is not None:
            for i in range(sp.get_piece_size()):
                piece = sp.id_to_piece(i)
                body = piece[1:] if piece.startswith("\u2581") else piece
                if not body.isalpha() or not body.isascii():
                    continue
                (self.starts if piece.startswith("\u2581") else self.conts).append(body.lower())

    def pick(self, r):
        if self.p_piece and r.random() < self.p_piece:
            w = r.choice(self.starts)
            for _ in range(r.randint(0, 2)):
                w += r.choice(self.conts)
            return w
        return r.choice(self.words)


# short words that also start many longer words ("to" / "toward"): a needle has them before rare words
FUNCTION_WORDS = ["a", "an", "as", "at", "by", "for", "from", "in", "into", "is", "of", "on", "the", "to", "with"]


def random_needle(r, words):
    """A needle whose content the language model cannot guess: random words (NeedleWords) in the sentence shapes
    of NIAH needles ("The X is Y." asked as "What is the X?").  Only copying from the context answers it."""
    def ws(lo, hi):
        return " ".join(words.pick(r) for _ in range(r.randint(lo, hi)))

    subj = ws(1, 3)
    pred = ws(2, 7)
    form = r.randrange(7)
    if form == 0:
        return "The %s is %s." % (subj, pred), "What is the %s?" % subj
    if form == 1:
        n = person_name(r)
        return "The %s of %s is %s." % (subj, n, pred), "What is the %s of %s?" % (subj, n)
    if form == 2:
        n = titled(r)
        return "%s's %s is %s." % (n, subj, pred), "What is %s's %s?" % (n, subj)
    if form == 3:
        p = place_name(r)
        return "The %s in %s is %s." % (subj, p, pred), "What is the %s in %s?" % (subj, p)
    if form == 4:
        v = ws(2, 4)
        return "The best time to %s is %s." % (v, pred), "When is the best time to %s?" % v
    if form == 5:
        s2 = ws(1, 2)
        return "The %s to the %s is %s." % (subj, s2, pred), "What is the %s to the %s?" % (subj, s2)
    n = person_name(r)
    return "%s %s %s." % (n, ws(1, 1) + "s", pred), "What does %s do?" % n


class NeedleGen:
    def __init__(self, banned, words=None, p_random=0.0):
        self.templates = needle_templates()
        self.banned = banned
        self.words = words
        self.p_random = p_random if words else 0.0

    def sample(self, rng, exclude_template=None):
        for _ in range(100):
            if self.p_random and rng.random() < self.p_random:
                i = -1
                needle, question = random_needle(rng, self.words)
                if self.banned.hit(needle) or self.banned.hit(question):
                    continue
                return i, needle, question
            i = rng.randrange(len(self.templates))
            if i == exclude_template and len(self.templates) > 1:
                continue
            needle, question = self.templates[i](rng)
            if self.banned.hit(needle) or self.banned.hit(question):
                continue
            return i, needle, question
        raise RuntimeError("could not sample an allowed needle")


# ---------------------------------------------------------------------------------------------------------------
# Tokenizer corpus
# ---------------------------------------------------------------------------------------------------------------


def tokenizer_corpus_lines(docs, banned, seed, n_needles=30000):
    rng = random.Random("tokcorpus/%d" % seed)
    gen = NeedleGen(banned)
    lines = list(haystack_sentences(docs))
    for _ in range(n_needles):
        _, needle, q = gen.sample(rng)
        lines.append(needle)
        lines.append(q)
    for _ in range(200):
        lines.append("CONTEXT: QUESTION: ANSWER: Here is the most relevant sentence in the context:")
    lines += NOISE_SENTENCES * 50
    # single capitals, digits and punctuation so that each has its own piece
    lines += ["A B C D E F G H I J K L M N O P Q R S T U V W X Y Z 0 1 2 3 4 5 6 7 8 9 , . ! ? ' : ; - ( )"] * 20
    rng.shuffle(lines)
    return lines


# ---------------------------------------------------------------------------------------------------------------
# Prompt construction
# ---------------------------------------------------------------------------------------------------------------


class Haystack:
    """Sentences of the haystack with token counts (as they appear mid-text, i.e. with a leading space)."""

    def __init__(self, docs, sp):
        self.sents = []  # (sep, text, ntok)
        for d in docs:
            for j, (sep, s) in enumerate(d):
                if not self.sents:
                    sep = ""
                elif j == 0:
                    sep = "\n\n"
                self.sents.append((sep, s, len(sp.encode(" " + s))))
        self.doc_starts = []
        k = 0
        for d in docs:
            self.doc_starts.append(k)
            k += len(d)
        self.sp = sp

    def take(self, start, budget, cut_mid=False):
        """Sentences from index `start` (wrapping) whose token count fills `budget` (the last sentence may be cut
        at a word boundary when cut_mid).  -> list of [sep, text]"""
        out, n, i = [], 0, start % len(self.sents)
        while n < budget:
            sep, s, k = self.sents[i]
            if not out:
                sep = ""
            if n + k > budget and out:
                if cut_mid:  # SentencePiece never merges across a space: word counts add up
                    keep, kk = [], 0
                    for w in s.split(" "):
                        kw = len(self.sp.encode(" " + w))
                        if n + kk + kw > budget:
                            break
                        keep.append(w)
                        kk += kw
                    if keep:
                        out.append([sep, " ".join(keep)])
                break
            out.append([sep, s])
            n += k
            i = (i + 1) % len(self.sents)
        return out


def join_context(parts):
    return "".join((sep if i else "") + s for i, (sep, s) in enumerate(parts))


def insert_needle(parts, needle, k, sep_choice=" "):
    """Insert the needle as a sentence before parts[k] (k == len(parts): at the end)."""
    parts = [list(p) for p in parts]
    if k >= len(parts):
        parts.append([sep_choice, needle])
    else:
        parts.insert(k, ["" if k == 0 else sep_choice, needle])
        if k == 0:
            parts[1][0] = parts[1][0] or " "
    return parts


def depth_index(parts, sp, depth):
    """Sentence index where a needle at relative depth `depth` goes: the token position depth*len is moved back to
    the end of the previous sentence."""
    if depth <= 0 or not parts:
        return 0
    if depth >= 1:  # as hybridlens niah: at 100% the needle follows the (possibly cut) haystack
        return len(parts)
    lens = [len(sp.encode(" " + s)) for _, s in parts]
    total = sum(lens)
    target = depth * total
    acc, k = 0, 0
    for i, n in enumerate(lens):
        if acc + n <= target + 1e-9:
            acc += n
            k = i + 1
        else:
            break
    return snap_to_sentence_end(parts, k)


def snap_to_sentence_end(parts, k):
    """Never insert right after a cut (unterminated) fragment: move back to the previous sentence end."""
    while k > 0 and not parts[k - 1][1].rstrip().endswith((".", "!", "?")):
        k -= 1
    return k


def eval_prompt(hay, sp, needle, question, ctx_tokens, depth, start=0):
    """Deterministic NIAH prompt for evaluation: haystack from sentence `start` (0 = the beginning of the built-in
    haystack), cut to ctx_tokens minus the needle's tokens (mid-sentence, as a token cut would), needle inserted at
    `depth` (moved back to a sentence end).  -> (prompt text, context tokens)"""
    ntok_needle = len(sp.encode(" " + needle))
    parts = hay.take(start, max(1, ctx_tokens - ntok_needle), cut_mid=True)
    k = depth_index(parts, sp, depth)
    parts = insert_needle(parts, needle, k)
    context = join_context(parts)
    return niah_prompt(context, question), len(sp.encode(" " + context))


# ---------------------------------------------------------------------------------------------------------------
# Training examples and batches
# ---------------------------------------------------------------------------------------------------------------

W_PROMPT = 0.05   # prompt tokens of a retrieval example
W_ANSWER = 1.0    # needle tokens of the answer and the EOS
W_FIRST = 2.0     # the answer's first two tokens
W_LM = 0.25       # plain-text examples


class BatchMaker:
    def __init__(self, hay_dir, spm_path, heldout_path, seed, p_random=P_RANDOM_NEEDLE, p_piece=0.0, far=None,
                 p_lure=0.0):
        """far: (share, shortest, longest context, first batch index): from that batch index on, that share of
        batches has contexts in that range and the needle in the first 45% of the context (far back), so that
        retrieval beyond an attention window is trained without lengthening every batch.
        p_lure: share of random needles rewritten by lure() (copying against the language model's guess)."""
        import sentencepiece as spm

        self.far = far
        self.p_lure = p_lure
        self.sp = spm.SentencePieceProcessor(model_file=spm_path)
        self.docs = load_haystack(hay_dir)
        self.hay = Haystack(self.docs, self.sp)
        self.banned = Banned(banned_phrases(load_heldout(heldout_path)))
        self.gen = NeedleGen(self.banned, NeedleWords(word_list(self.docs), self.sp, p_piece), p_random=p_random)
        self.seed = seed
        self.noise = [(("" if i == 0 else " "), s, len(self.sp.encode(" " + s))) for i, s in enumerate(NOISE_SENTENCES)]

    def _context_parts(self, r, budget, noise=False):
        if noise:
            out, n, i = [], 0, r.randrange(5)
            while n < budget:
                _, s, k = self.noise[i % 5]
                out.append(["" if not out else " ", s])
                n += k
                i += 1
            return out
        u = r.random()
        if u < 0.15:
            start = 0
        elif u < 0.35:
            start = r.choice(self.hay.doc_starts)
        else:
            start = r.randrange(len(self.hay.sents))
        return self.hay.take(start, budget, cut_mid=r.random() < 0.5)

    def _lure_word(self, r, context_words):
        """A word that begins with the first pieces of a word of the context and then continues with other
        pieces ("tow|er" where the context has "tow|el|s"), or None."""
        sp = self.sp
        conts = self.gen.words.conts
        for _ in range(10):
            cw = r.choice(context_words)
            ids = sp.encode(" " + cw)
            if len(ids) < 2:
                continue
            j = r.randint(1, len(ids) - 1)
            w = "".join(sp.id_to_piece(i) for i in ids[:j]).lstrip("\u2581")
            w += "".join(r.choice(conts) for _ in range(r.randint(1, 2)))
            if w != cw and w.isalpha() and sp.encode(" " + w)[:j] == ids[:j]:
                return w
        return None

    def lure(self, r, needle, question, parts):
        """The needle with 1-3 of its answer words (words not in the question) replaced by lures: a word that
        starts like a word of this context and continues differently (_lure_word), or a short word that starts
        many longer ones followed by a random word ("to" + "pelican").  Stage 5 of tiny-griffin failed exactly
        there: "north tow|er" answered "north tow|el|s" (held out), "belongs to Professor" answered "belongs
        toing" (a development needle)."""
        words = needle[:-1].split(" ") if needle.endswith(".") else needle.split(" ")
        asked = set(question.rstrip("?").split(" "))
        slots = [i for i, w in enumerate(words) if w.isalpha() and w.islower() and w not in asked]
        context_words = sorted({w.lower() for w in re.findall(r"[A-Za-z]{3,}", join_context(parts))})
        if not slots or not context_words:
            return needle
        for i in r.sample(slots, r.randint(1, min(3, len(slots)))):
            if r.random() < 0.3:
                words[i] = r.choice(FUNCTION_WORDS) + " " + self.gen.words.pick(r)
            else:
                words[i] = self._lure_word(r, context_words) or words[i]
        out = " ".join(words) + "."
        return needle if self.banned.hit(out) else out

    def _word_pieces(self, words, first_space, alpha):
        """Ids of the needle, word by word (SentencePiece never merges across a space, so this equals encoding the
        whole string); with alpha > 0 each word is segmented with BPE-dropout, so that the model learns to copy
        any piece sequence (held-out needles contain words that the tokenizer splits into short pieces)."""
        sp = self.sp
        out = []
        for j, w in enumerate(words):
            text = (" " + w) if (j > 0 or first_space) else w
            if alpha > 0:
                out.append(sp.encode(text, enable_sampling=True, alpha=alpha, nbest_size=-1))
            else:
                out.append(sp.encode(text))
        return out

    def retrieval(self, r, ctx_tokens, check=False, far=False):
        """-> (ids, weights) ; weights[t] weighs the prediction of ids[t] (weights[0] = 0)."""
        sp = self.sp
        tmpl, needle, question = self.gen.sample(r)
        distractors = []
        if r.random() < 0.15:
            for _ in range(r.choice([1, 1, 2])):
                _, d, _ = self.gen.sample(r, exclude_template=tmpl if r.random() < 0.5 else None)
                distractors.append(d)
        ntok = sum(len(sp.encode(" " + n)) for n in [needle] + distractors)
        noise = r.random() < 0.05
        parts = self._context_parts(r, max(4, ctx_tokens - ntok), noise=noise)
        if tmpl == -1 and self.p_lure and r.random() < self.p_lure:  # no draw without --p-lure
            needle = self.lure(r, needle, question, parts)
        for d in distractors:
            parts = insert_needle(parts, d, snap_to_sentence_end(parts, r.randint(0, len(parts))))
        k = r.randint(0, int(len(parts) * 0.45)) if far else r.randint(0, len(parts))
        if not (k == len(parts) and r.random() < 0.3):  # hybridlens appends at 100% depth even after a cut
            k = snap_to_sentence_end(parts, k)
        sep_needle = "\n\n" if (k > 0 and r.random() < 0.1) else " "
        after = [list(p) for p in parts[k:]]
        if after:
            after[0][0] = after[0][0] or " "
        jrt = r.random() < 0.05
        alpha = r.uniform(0.1, 0.5) if (not jrt and r.random() < 0.5) else 0.0
        trailing = r.random() < 0.85
        words = needle.split(" ")
        ctx_words = self._word_pieces(words, first_space=(sep_needle == " "), alpha=alpha)
        if alpha > 0:
            ans_first = self._word_pieces(words[:1], first_space=not trailing, alpha=alpha)[0]
        else:
            ans_first = sp.encode(words[0] if trailing else " " + words[0])
        ans = ans_first + [i for w in ctx_words[1:] for i in w]
        before_text = "CONTEXT:" + ((" " + join_context(parts[:k])) if k > 0 else "")
        after_text = ((after[0][0] + join_context(after)) if after else "") + PROMPT_MIDDLE + question
        if jrt:
            block = PROMPT_PREFIX + join_context(insert_needle(parts, needle, k, sep_needle)) + PROMPT_MIDDLE + question
            prompt = block + "\n\n" + block + PROMPT_SUFFIX
            p_ids = [BOS_ID] + sp.encode(prompt if trailing else prompt.rstrip(" "))
        else:
            suffix = PROMPT_SUFFIX if trailing else PROMPT_SUFFIX.rstrip(" ")
            needle_ids = (sp.encode("\n\n") if sep_needle != " " else []) + [i for w in ctx_words for i in w]
            p_ids = [BOS_ID] + sp.encode(before_text) + needle_ids + sp.encode(after_text + suffix)
            if check:  # the segment-wise ids equal the ids of the whole prompt string (no dropout)
                whole = before_text + (sep_needle if k > 0 else " ") + needle + after_text + suffix
                ref = [BOS_ID] + sp.encode(whole)
                ref_ans = sp.encode(needle if trailing else " " + needle)
                return p_ids == ref and ans == ref_ans, whole
        ids = p_ids + ans + [EOS_ID]
        w = [0.0] + [W_PROMPT] * (len(p_ids) - 1) + [W_ANSWER] * (len(ans) + 1)
        for j in range(min(2, len(ans))):
            w[len(p_ids) + j] = W_FIRST
        return ids, w

    def plain(self, r, n_tokens):
        parts = self._context_parts(r, n_tokens)
        ids = [BOS_ID] + self.sp.encode(join_context(parts))
        return ids, [0.0] + [W_LM] * (len(ids) - 1)

    def batch(self, index, batch_size, ctx_lo, ctx_hi, p_plain=0.3):
        """Deterministic batch `index`: a common context length for the batch (similar lengths, little padding).
        -> dict of lists (ids, w, kind)"""
        import numpy as np

        r = random.Random("batch/%d/%d" % (self.seed, index))
        c = r.randint(ctx_lo, ctx_hi)
        # no draw without --p-far (earlier stages' batches stay as they were); none before far[3] (--far-after)
        far = bool(self.far) and r.random() < self.far[0] and index >= self.far[3]
        if far:
            c = r.randint(self.far[1], self.far[2])
        seqs = []
        for _ in range(batch_size):
            ci = max(8, int(c * r.uniform(0.85, 1.0)))
            if r.random() < p_plain:
                ids, w = self.plain(r, ci + 40)
                kind = 0
            else:
                ids, w = self.retrieval(r, ci, far=far)
                kind = 1
            seqs.append((ids, w, kind))
        T = max(len(s[0]) for s in seqs)
        ids = np.full((batch_size, T), PAD_ID, dtype=np.int64)
        ws = np.zeros((batch_size, T), dtype=np.float32)
        kinds = np.zeros((batch_size,), dtype=np.int64)
        for i, (a, w, k) in enumerate(seqs):
            ids[i, : len(a)] = a
            ws[i, : len(w)] = w
            kinds[i] = k
        return {"ids": ids, "w": ws, "kind": kinds, "ctx": c}


def batch_worker(q, hay_dir, spm_path, heldout_path, seed, worker, n_workers, batch_size, schedule, p_plain=0.3,
                 p_random=P_RANDOM_NEEDLE, p_piece=0.0, far=None, p_lure=0.0):
    """Process target: puts batches worker, worker+n, ... into its own queue (blocking when full)."""
    bm = BatchMaker(hay_dir, spm_path, heldout_path, seed, p_random=p_random, p_piece=p_piece, far=far,
                    p_lure=p_lure)
    i = worker
    while True:
        lo, hi = schedule(i)
        q.put((i, bm.batch(i, batch_size, lo, hi, p_plain=p_plain)))
        i += n_workers


class LengthSchedule:
    """Context-length range by batch index: starts short and widens to the full range over `ramp` batches."""

    def __init__(self, lo, hi_start, hi_end, ramp):
        self.lo, self.hi_start, self.hi_end, self.ramp = lo, hi_start, hi_end, ramp

    def __call__(self, i):
        f = min(1.0, i / max(1, self.ramp))
        return self.lo, int(self.hi_start + f * (self.hi_end - self.hi_start))


# ---------------------------------------------------------------------------------------------------------------
# Scoring (METHOD.md)
# ---------------------------------------------------------------------------------------------------------------


def score(output, rec):
    o = norm_text(output)
    if norm_text(rec["needle"]) in o:
        return 5.0
    s = 0.0
    for ph, pts in rec.get("partial", []):
        if norm_text(ph) in o:
            s += pts
    return min(s, 4.0)
