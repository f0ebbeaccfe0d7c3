"""Independent reference for the SummEval rule-based factor scores.

Written from METHOD.md alone (regex words, NLTK's Snowball English stemmer,
plain Python counting); it shares no code with the Rust implementation. The
Rust test `tests/reference.rs` asserts the counts printed here.

    pip install nltk && python3 tests/reference/summeval_reference.py ../shared/data/summeval/summeval.jsonl
"""
import json
import re
import sys
from itertools import combinations

from nltk.stem.snowball import SnowballStemmer

STEM = SnowballStemmer("english").stem


def words(text):
    return re.sub(r"[^\w\s]", "", text).split()


def stems(text):
    return {STEM(w.lower()) for w in words(text)}


def novel(resp, src):
    r = stems(resp)
    return len(r - stems(src)) / len(r) if r else 0.0


def main(path):
    rows = [json.loads(l) for l in open(path, encoding="utf-8") if l.strip()]
    by_article = {}
    for r in rows:
        by_article.setdefault(r["article_id"], []).append(r)
    aspects = ["coherence", "consistency", "fluency", "relevance"]
    out = {}
    for factor in ["length", "novel_words"]:
        c = d = dropped = ties = 0
        for items in by_article.values():
            for x, y in combinations(items, 2):
                sx = sum(x[a] for a in aspects) / 4
                sy = sum(y[a] for a in aspects) / 4
                if abs(sx - sy) < 1e-6:
                    ties += 1
                    continue
                p = 1 if sx > sy else -1
                if factor == "length":
                    vx, vy = len(words(x["summary"])), len(words(y["summary"]))
                else:
                    vx, vy = novel(x["summary"], x["article"]), novel(y["summary"], y["article"])
                m = 0 if abs(vx - vy) < 1e-9 else (1 if vx > vy else -1)
                if m == 0:
                    dropped += 1
                elif m == p:
                    c += 1
                else:
                    d += 1
        out[factor] = {"C": c, "D": d, "dropped": dropped, "human_ties": ties, "score": (c - d) / (c + d)}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main(sys.argv[1])
