#!/usr/bin/env python3
"""Writes hybridlens's built-in NIAH haystack: data/haystack/*.txt.

English-like prose that the project generates itself (no third-party text): short plausible sentences about
everyday topics, built from word lists and sentence templates with a fixed seed, grouped into paragraphs and
one "essay" per topic file.  Every sentence ends with '.', '!' or '?'.  The text avoids the phrases that the
project's needles use (data/needles.jsonl, the paper's San Francisco needle and the needle templates of
tools/train_tiny.py: passwords, magic numbers, codes, secret ingredients, ...), so that a needle stands out
only by its content, never because the haystack already contains a similar fact.

    python3 tools/make_haystack.py [--out data/haystack] [--seed 20251019] [--check]

Pure Python 3, no third-party packages; the output is byte-identical for a given seed.
"""

import argparse
import json
import os
import random
import re
import sys

SEED = 20251019
TARGET_BYTES_PER_FILE = 19000

PEOPLE = [
    "my neighbor", "my sister", "my brother", "my aunt", "my uncle", "my cousin", "my grandmother",
    "my grandfather", "our teacher", "the old farmer", "the young painter", "the shopkeeper", "the mail carrier",
    "a friend of mine", "the girl next door", "the boy across the street", "our landlord", "the bus driver",
    "the librarian", "the baker", "the gardener", "the fisherman", "my father", "my mother", "the children",
    "the twins", "my roommate", "an old sailor", "the new student", "the night nurse", "the carpenter",
    "my best friend", "a quiet stranger", "the woman upstairs", "the man with the red hat",
]
NAMES = [
    "Anna", "Ben", "Clara", "Daniel", "Ella", "Felix", "Grace", "Henry", "Iris", "Jack", "Kate", "Leo", "Maya",
    "Noah", "Olive", "Peter", "Ruth", "Sam", "Tessa", "Victor", "Wendy", "Adam", "Bella", "Carl", "Diana",
    "Emil", "Fiona", "George", "Hannah", "Ivan", "Julia", "Karl", "Lucy", "Martin", "Nora", "Oscar", "Paula",
]
TIMES = [
    "in the morning", "in the afternoon", "in the evening", "at night", "at dawn", "after lunch",
    "before dinner", "on weekends", "on Sunday", "on Monday", "every Friday", "last summer", "last winter",
    "this spring", "in the autumn", "during the holidays", "after school", "before work", "at noon",
    "late at night", "early in the day", "once a week", "every other day", "most days", "now and then",
]
FEELINGS = [
    "happy", "tired", "calm", "curious", "proud", "cheerful", "sleepy", "hungry", "thoughtful", "relaxed",
    "busy", "grateful", "surprised", "restless", "content", "hopeful", "nervous", "patient",
]
WEATHER = [
    "sunny", "cloudy", "windy", "foggy", "rainy", "snowy", "chilly", "warm", "bright", "gray", "humid", "mild",
    "stormy", "crisp", "quiet",
]
DAYWORDS = ["morning", "afternoon", "evening", "day", "week", "night"]
ADVERBS = [
    "slowly", "quickly", "quietly", "carefully", "happily", "gently", "often", "rarely", "always", "usually",
    "sometimes", "easily", "patiently", "proudly", "calmly", "eagerly",
]
CONNECT = [
    "Later", "After a while", "Soon", "Then", "Meanwhile", "In the end", "At first", "Afterwards",
    "For a moment", "Eventually", "Before long", "By then", "Of course", "Still", "Luckily", "Sadly",
]
OPINIONS = [
    "It is hard to say why, but", "Most people agree that", "Some say that", "I have always thought that",
    "Everyone in town knows that", "It turns out that", "To be honest,", "As far as I can tell,",
    "Nobody was surprised that", "It is funny how",
]

# Each topic: things (nouns with article), places, activities (base verb phrases), describing adjectives,
# past-tense events, and a few topic sentences with free slots.
TOPICS = {
    "garden": dict(
        title="A year in the garden",
        things=["the tomatoes", "the roses", "the beans", "the old apple tree", "the herb bed", "the compost heap",
                "the watering can", "the wheelbarrow", "the sunflowers", "the hedge", "the carrots", "the lettuce",
                "the gate", "the shed", "the bird feeder", "the potatoes", "the strawberries", "the pumpkins"],
        places=["in the garden", "behind the shed", "by the fence", "near the pond", "under the apple tree",
                "along the path", "in the greenhouse", "on the porch"],
        acts=["water the plants", "pull the weeds", "plant new seeds", "rake the leaves", "trim the hedge",
              "pick the ripe fruit", "dig a new bed", "feed the birds", "cut the grass", "turn the soil"],
        adjs=["green", "tall", "ripe", "fresh", "muddy", "tidy", "wild", "healthy", "dry", "sweet"],
        events=["the first frost came early", "the bees returned to the flowers", "the rain finally stopped",
                "a rabbit found its way under the fence", "the seedlings pushed through the soil",
                "the wind knocked over the bean poles", "the cherries turned dark red"],
    ),
    "kitchen": dict(
        title="Cooking at home",
        things=["the soup pot", "the bread dough", "the kettle", "the frying pan", "the onions", "the rice",
                "the cutting board", "the oven", "the fruit bowl", "the spice rack", "the pancakes", "the pasta",
                "the vegetable stew", "the lemon cake", "the salad", "the coffee", "the butter dish"],
        places=["in the kitchen", "at the stove", "by the sink", "on the counter", "at the table",
                "near the window", "in the pantry"],
        acts=["chop the vegetables", "stir the sauce", "bake a loaf of bread", "wash the dishes",
              "set the table", "boil some water", "taste the soup", "slice the cheese", "roll out the dough",
              "make a pot of tea"],
        adjs=["hot", "warm", "crispy", "salty", "sweet", "soft", "golden", "spicy", "fresh", "simple"],
        events=["the milk boiled over", "the bread rose twice as high as usual", "the smoke alarm went off",
                "the whole house smelled of garlic", "the guests arrived before the food was ready",
                "the pie came out perfectly golden", "we ran out of flour"],
    ),
    "weather": dict(
        title="Notes on the weather",
        things=["the clouds", "the wind", "the rain", "the fog", "the thunder", "the snow", "the sky",
                "the puddles", "the rainbow", "the frost", "the storm", "the sunset", "the heat", "the breeze"],
        places=["over the hills", "above the town", "along the coast", "across the valley", "over the lake",
                "outside the window", "in the north", "near the mountains"],
        acts=["watch the clouds", "check the forecast", "carry an umbrella", "close the shutters",
              "wear a warm coat", "sit by the window", "count the lightning flashes", "shovel the snow"],
        adjs=["cold", "gray", "bright", "heavy", "gentle", "strange", "sudden", "soft", "dark", "clear"],
        events=["the temperature dropped overnight", "the river rose after the storm", "the sun broke through",
                "the first snow covered the roofs", "the wind changed direction", "the fog lifted by noon",
                "hail rattled on the windows"],
    ),
    "coast": dict(
        title="A trip to the coast",
        things=["the waves", "the little cottages", "the sand", "the fishing boats", "the pier",
                "the seagulls", "the tide", "the shells", "the beach huts", "the cliffs", "the harbor lights",
                "the ferry", "the dunes", "the rock pools"],
        places=["on the beach", "by the harbor", "along the pier", "near the cliffs", "on the ferry",
                "at the seaside cafe", "in the dunes", "on the boardwalk"],
        acts=["collect shells", "watch the boats", "swim in the sea", "build a sandcastle", "walk along the shore",
              "fly a kite", "eat fish and chips", "look for crabs", "read in the shade"],
        adjs=["salty", "blue", "wide", "rough", "calm", "sandy", "windy", "sunny", "cool", "lively"],
        events=["the tide came in faster than we expected", "a seal popped its head out of the water",
                "the ferry was late again", "the wind blew our towels away", "the fishing boats came home at dusk",
                "we saw dolphins far from the shore", "the sand was too hot to walk on"],
    ),
    "town": dict(
        title="Life in a small town",
        things=["the town square", "the old church", "the post office", "the clock", "the fountain",
                "the corner shop", "the bus stop", "the bridge", "the town hall", "the playground",
                "the cafe", "the bookshop", "the market stalls", "the train station"],
        places=["in the town square", "on Main Street", "near the bridge", "by the fountain", "at the market",
                "outside the post office", "behind the church", "at the bus stop"],
        acts=["buy the newspaper", "meet old friends", "post a letter", "catch the bus", "visit the market",
              "sit on a bench", "walk to the bridge", "chat with the neighbors", "feed the ducks"],
        adjs=["busy", "quiet", "old", "friendly", "narrow", "crowded", "sleepy", "charming", "clean", "noisy"],
        events=["the town held a summer fair", "the bridge was painted blue", "a new cafe opened on the corner",
                "the church bells rang all afternoon", "the market moved to the other side of the square",
                "the mayor planted a tree by the fountain", "the streetlights came on one by one"],
    ),
    "school": dict(
        title="The school year",
        things=["the homework", "the spelling test", "the science project", "the school bus", "the chalkboard",
                "the lunch box", "the music room", "the gym", "the reading corner", "the art supplies",
                "the field trip", "the class pet", "the report card", "the playground"],
        places=["in the classroom", "on the playground", "in the hallway", "at the library desk",
                "in the gym", "on the school bus", "in the art room", "near the gate"],
        acts=["read a chapter", "solve the puzzle", "practice the song", "draw a map", "write a short story",
              "clean the whiteboard", "water the class plants", "learn the new words", "count the tickets"],
        adjs=["new", "difficult", "easy", "colorful", "long", "noisy", "quiet", "exciting", "short", "useful"],
        events=["the bell rang early", "the class won the reading prize", "it snowed on the first day of term",
                "the teacher brought a guinea pig", "the field trip was moved to Thursday",
                "everyone forgot their gym shoes", "the school play was a great success"],
    ),
    "dog": dict(
        title="Walking the dog",
        things=["the leash", "the ball", "the dog bed", "the water bowl", "the muddy paws", "the park gate",
                "the squirrels", "the other dogs", "the long grass", "the stick", "the treats", "the collar"],
        places=["in the park", "along the river", "around the block", "through the woods", "across the field",
                "by the old wall", "near the pond", "on the hill"],
        acts=["throw the ball", "fill the water bowl", "brush the dog", "take a long walk", "chase the pigeons",
              "dry the muddy paws", "teach a new trick", "rest under a tree"],
        adjs=["happy", "muddy", "excited", "lazy", "curious", "loyal", "playful", "sleepy", "clever", "wet"],
        events=["the dog found a bone in the bushes", "it started to rain halfway home", "a cat hissed from a wall",
                "the dog jumped into the pond", "we met a puppy with floppy ears", "the ball rolled into the river",
                "the dog fell asleep on the sofa"],
    ),
    "music": dict(
        title="Learning to play music",
        things=["the piano", "the guitar", "the violin", "the drum", "the sheet music", "the metronome",
                "the choir", "the old record player", "the scales", "the concert", "the tune", "the flute"],
        places=["in the music room", "at the concert hall", "in the living room", "on the stage",
                "at the church", "in the garage", "by the open window"],
        acts=["practice the scales", "tune the guitar", "learn a new song", "play a duet", "listen to old records",
              "sing in the choir", "count the beats", "turn the page"],
        adjs=["loud", "soft", "slow", "lively", "sad", "cheerful", "tricky", "beautiful", "simple", "gentle"],
        events=["a string snapped during the concert", "the audience clapped for a long time",
                "the neighbors asked us to play more quietly", "the choir sang in three parts",
                "the old piano was finally tuned", "the drummer lost the beat", "the song stayed in my head all day"],
    ),
    "library": dict(
        title="An afternoon at the library",
        things=["the novels", "the atlas", "the reading lamps", "the newspapers", "the poetry shelf",
                "the history books", "the study tables", "the returns cart", "the picture books",
                "the quiet room", "the catalog", "the dictionary"],
        places=["at the library", "in the reading room", "between the shelves", "by the front desk",
                "near the windows", "upstairs", "in the children's corner"],
        acts=["borrow a few books", "read the newspaper", "look up an old map", "return the novels",
              "study for the exam", "sit by the window", "write some letters", "find a quiet table"],
        adjs=["quiet", "dusty", "bright", "heavy", "old", "thick", "peaceful", "warm", "tall", "popular"],
        events=["the power went out for an hour", "a new shelf of mysteries arrived",
                "the library stayed open late for the exams", "someone left an umbrella by the door",
                "the reading club chose a very long book", "the children listened to a story",
                "the old clock stopped at four"],
    ),
    "office": dict(
        title="A week at the office",
        things=["the printer", "the meeting", "the spreadsheet", "the coffee machine", "the calendar",
                "the report", "the new desk", "the email inbox", "the plants by the window", "the phone",
                "the project plan", "the elevator"],
        places=["at the office", "in the meeting room", "by the coffee machine", "at my desk",
                "in the lobby", "on the third floor", "near the printer"],
        acts=["answer the emails", "finish the report", "call the client", "plan the next week",
              "fix the printer", "water the office plants", "clean the desk", "take a short break"],
        adjs=["busy", "long", "quiet", "tiring", "useful", "boring", "productive", "calm", "hectic", "short"],
        events=["the printer jammed again", "the meeting ran over by an hour", "the elevator was out of order",
                "someone brought cake for everyone", "the internet stopped working before lunch",
                "the new chairs finally arrived", "the whole team went home early"],
    ),
    "sports": dict(
        title="Weekend sports",
        things=["the football", "the tennis court", "the running track", "the bicycle", "the swimming pool",
                "the team", "the match", "the referee", "the trophy", "the training plan", "the helmet",
                "the score board"],
        places=["at the stadium", "on the field", "at the pool", "on the track", "in the park",
                "on the tennis court", "along the bike path"],
        acts=["run a few laps", "kick the ball", "ride the bicycle", "swim ten lengths", "stretch the legs",
              "practice the serve", "cheer for the team", "pump up the tires"],
        adjs=["fast", "strong", "tired", "close", "exciting", "muddy", "long", "fair", "tough", "friendly"],
        events=["our team scored in the last minute", "the match was stopped because of rain",
                "the referee blew the whistle", "a new record was set at the pool",
                "the bike had a flat tire", "the crowd sang until the end", "the coach changed the plan"],
    ),
    "river": dict(
        title="Along the river",
        things=["the river", "the willows", "the rowing boat", "the ducks", "the old mill", "the stepping stones",
                "the fishing rods", "the towpath", "the reeds", "the kingfisher", "the canal locks", "the current"],
        places=["by the river", "on the bank", "under the willows", "near the old mill", "on the towpath",
                "at the bend of the river", "by the weir"],
        acts=["row the boat", "skip stones", "watch the ducks", "fish for an hour", "walk the towpath",
              "sit on the bank", "paddle in the shallows", "sketch the old mill"],
        adjs=["slow", "clear", "cold", "deep", "muddy", "wide", "peaceful", "green", "shallow", "quick"],
        events=["the river flooded the meadow", "a gray bird stood very still in the reeds",
                "the boat drifted away from the bank", "the water turned brown after the rain",
                "we spotted a kingfisher", "the mill wheel began to turn again", "the ducklings followed their mother"],
    ),
    "winter": dict(
        title="Winter evenings",
        things=["the fireplace", "the blankets", "the hot chocolate", "the board games", "the candles",
                "the snowman", "the wool socks", "the long nights", "the frozen pond", "the sledge",
                "the radiator", "the storybook"],
        places=["by the fire", "on the sofa", "at the kitchen table", "in the snowy garden", "on the frozen pond",
                "under the blankets", "by the window"],
        acts=["light the fire", "play a board game", "knit a scarf", "read a long book", "drink hot chocolate",
              "build a snowman", "bring in more wood", "wrap up warm"],
        adjs=["cozy", "cold", "dark", "snowy", "long", "warm", "quiet", "frosty", "bright", "still"],
        events=["the power went out during the storm", "the pond froze solid", "the snow reached the windows",
                "the cat slept by the fire all night", "we stayed up late playing cards",
                "the roads were closed for two days", "the pipes made a strange noise"],
    ),
    "moving": dict(
        title="Moving house",
        things=["the boxes", "the van", "the new keys", "the empty rooms", "the old sofa", "the curtains",
                "the bookshelves", "the packing tape", "the front door", "the new neighbors", "the attic",
                "the garden gate"],
        places=["in the new house", "in the hallway", "up the stairs", "in the attic", "by the front door",
                "in the back garden", "in the empty kitchen"],
        acts=["pack the boxes", "carry the sofa", "paint the walls", "unpack the books", "hang the curtains",
              "label every box", "clean the windows", "meet the neighbors"],
        adjs=["empty", "heavy", "new", "old", "bright", "small", "spacious", "dusty", "fresh", "strange"],
        events=["the van arrived three hours late", "a box of plates slipped and broke",
                "the neighbors brought us a cake", "the keys did not fit the back door",
                "we found old letters in the attic", "it rained all day while we carried boxes",
                "the cat hid under the stairs"],
    ),
}

# Sentence templates. Slots: {P} person phrase, {N} name, {T} time phrase, {th} thing, {pl} place,
# {act} activity, {adj} adjective, {ev} event, {feel} feeling, {w} weather word, {dw} day word,
# {adv} adverb, {con} connective, {op} opinion opener, {n} small number.
TEMPLATES = [
    "{N} likes to {act} {T}.",
    "{T_cap}, {P} would {act} {pl}.",
    "{P_cap} said that {th} looked {adj} {T}.",
    "{th_cap} {was} {adj} again {T}.",
    "It was a {w} {dw}, and {ev}.",
    "{con}, {ev}.",
    "{op} {th} {is} the best part of the {dw}.",
    "We went {pl} to {act}.",
    "Have you ever tried to {act} {pl}?",
    "What a {adj} {dw} it was!",
    "{N} felt {feel} after trying to {act}.",
    "{P_cap} {adv} helps us {act}.",
    "Nobody could explain why {th} {was} so {adj}.",
    "{T_cap}, {ev}.",
    "There were {n} of us {pl} that {dw}.",
    "{N} and {N2} decided to {act} together.",
    "Why does {P} always {act} {T}?",
    "I remember the {dw} when {ev}.",
    "{th_cap} {is} {adj}, but {th2} {is} even more {adj2}.",
    "{N} waited {pl} for almost {n} minutes.",
    "We never forget to {act} {T}.",
    "{P_cap} asked whether we wanted to {act}.",
    "It took {n} hours to {act}, but it was worth it!",
    "{con}, {P} came {pl} and started to {act}.",
    "The best way to spend a {w} {dw} is to {act} {pl}.",
    "Everyone was {feel} when {ev}.",
    "{N} told me that {ev} {T}.",
    "How lovely it is to {act} {pl}!",
    "{th_cap} reminded {N} of a {adj} {dw} long ago.",
    "Did you know that {ev} {T}?",
    "{P_cap} and I {adv} {act_past} {pl}.",
    "Sometimes the simplest plan is to {act} and wait.",
    "By the time we got {pl}, {ev}.",
    "{N} wrote in a diary that {th} {was} {adj}.",
    "Nothing beats a {adj} {dw} {pl}.",
    "If the weather stays {w}, we will {act} tomorrow.",
    "The {dw} felt {adj}, and {P} was {feel}.",
    "{N} laughed when {ev}.",
    "Is it true that {P} can {act} without help?",
    "We talked for hours about {th} and {th2}.",
]

# Phrases the haystack must never contain (needle material).
FORBIDDEN = [
    "password", "magic number", "secret", "special number", "passkey", "code to", "combination",
    "san francisco", "dolores park", "best thing to do", "ingredient", "the key to",
]


def past_of(act):
    irregular = {"make": "made", "take": "took", "build": "built", "read": "read", "drink": "drank",
                 "find": "found", "meet": "met", "ride": "rode", "swim": "swam", "run": "ran", "sit": "sat",
                 "write": "wrote", "eat": "ate", "throw": "threw", "bring": "brought", "light": "lit",
                 "sing": "sang", "hang": "hung", "catch": "caught", "fly": "flew", "teach": "taught",
                 "buy": "bought", "draw": "drew", "learn": "learned", "knit": "knitted", "skip": "skipped",
                 "dig": "dug", "cut": "cut", "set": "set", "put": "put", "plan": "planned", "chat": "chatted",
                 "stop": "stopped", "wrap": "wrapped", "pump": "pumped", "carry": "carried", "dry": "dried",
                 "try": "tried", "trim": "trimmed", "feed": "fed", "spend": "spent", "lose": "lost"}
    words = act.split(" ")
    v = words[0]
    if v in irregular:
        p = irregular[v]
    elif v.endswith("e"):
        p = v + "d"
    elif v.endswith("y") and len(v) > 1 and v[-2] not in "aeiou":
        p = v[:-1] + "ied"
    else:
        p = v + "ed"
    return " ".join([p] + words[1:])


def cap(s):
    return s[0].upper() + s[1:] if s else s


def plural_thing(th):
    """crude: is the noun phrase plural? (for is/was agreement)"""
    last = th.split(" ")[-1]
    return last.endswith("s") and not last.endswith(("ss", "us")) and last not in ("news",)


def make_sentence(rng, topic):
    t = TOPICS[topic]
    tpl = rng.choice(TEMPLATES)
    th = rng.choice(t["things"])
    th2 = rng.choice([x for x in t["things"] if x != th])
    adj = rng.choice(t["adjs"])
    adj2 = rng.choice([x for x in t["adjs"] if x != adj])
    act = rng.choice(t["acts"])
    n1 = rng.choice(NAMES)
    n2 = rng.choice([x for x in NAMES if x != n1])
    person = rng.choice(PEOPLE)
    time_ = rng.choice(TIMES)
    is_ = "are" if plural_thing(th) else "is"
    was = "were" if plural_thing(th) else "was"
    s = tpl
    # second-thing agreement in the comparison template
    if "{th2} {is}" in s:
        s = s.replace("{th2} {is}", "{th2} " + ("are" if plural_thing(th2) else "is"))
    s = s.format(
        N=n1, N2=n2, P=person, P_cap=cap(person), T=time_, T_cap=cap(time_), th=th, th_cap=cap(th), th2=th2,
        pl=rng.choice(t["places"]), act=act, act_past=past_of(act), adj=adj, adj2=adj2,
        ev=rng.choice(t["events"]), feel=rng.choice(FEELINGS), w=rng.choice(WEATHER), dw=rng.choice(DAYWORDS),
        adv=rng.choice(ADVERBS), con=rng.choice(CONNECT), op=rng.choice(OPINIONS),
        n=rng.choice(["two", "three", "four", "five", "six", "seven", "eight", "ten", "twelve", "twenty"]),
        is_=is_, was=was, **{"is": is_},
    )
    s = re.sub(r"\s+", " ", s).strip()
    s = s.replace(" ,", ",")
    s = re.sub(r"\b([Aa]) (?=[aeio]|u(?!s))", lambda m: m.group(1) + "n ", s)
    return cap(s)


def make_paragraph(rng, topic):
    n = rng.randint(4, 8)
    out, seen = [], set()
    while len(out) < n:
        s = make_sentence(rng, topic)
        if s in seen:
            continue
        seen.add(s)
        out.append(s)
    return " ".join(out)


def make_essay(rng, topic):
    title = TOPICS[topic]["title"]
    paras = []
    size = 0
    while size < TARGET_BYTES_PER_FILE:
        p = make_paragraph(rng, topic)
        paras.append(p)
        size += len(p) + 2
    return title + ".\n\n" + "\n\n".join(paras) + "\n"


def heldout_phrases(repo_root):
    """Answer phrases of data/needles.jsonl: the haystack must not contain them."""
    path = os.path.join(repo_root, "data", "needles.jsonl")
    out = []
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line:
                    rec = json.loads(line)
                    out.append(rec["answer"].lower())
                    for ph, _ in rec.get("partial", []):
                        out.append(ph.lower())
    return out


def check_text(text, banned):
    low = text.lower()
    bad = [p for p in FORBIDDEN + banned if p in low]
    sentences = re.split(r"(?<=[.!?])\s+", text.strip())
    unterminated = [s for s in sentences if s and s[-1] not in ".!?"]
    return bad, unterminated


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    ap.add_argument("--out", default=os.path.join(root, "data", "haystack"))
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--check", action="store_true", help="only check the existing files")
    args = ap.parse_args()
    banned = heldout_phrases(root)
    if not args.check:
        os.makedirs(args.out, exist_ok=True)
        for fn in os.listdir(args.out):
            if fn.endswith(".txt"):
                os.remove(os.path.join(args.out, fn))
        for i, topic in enumerate(sorted(TOPICS)):
            rng = random.Random("%d/%s" % (args.seed, topic))
            text = make_essay(rng, topic)
            with open(os.path.join(args.out, "%02d_%s.txt" % (i + 1, topic)), "w", encoding="utf-8") as f:
                f.write(text)
    total, problems, nsent, words = 0, 0, 0, set()
    for fn in sorted(os.listdir(args.out)):
        if not fn.endswith(".txt"):
            continue
        with open(os.path.join(args.out, fn), encoding="utf-8") as f:
            text = f.read()
        total += len(text.encode("utf-8"))
        bad, unterminated = check_text(text, banned)
        sents = re.split(r"(?<=[.!?])\s+", text.strip())
        nsent += len(sents)
        words |= set(re.findall(r"[a-z']+", text.lower()))
        if bad or unterminated:
            problems += 1
            print("%s: forbidden %s; unterminated %s" % (fn, bad, unterminated[:3]), file=sys.stderr)
    print("haystack: %d bytes, %d sentences, %d distinct words in %s" % (total, nsent, len(words), args.out))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
