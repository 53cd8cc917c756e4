"""Phrases matched by meaning rather than by one literal string: whole words, any inflection
(Snowball stems: "replacing" finds "replace"), filler words skipped ("replace our electronic
health record" finds "replace electronic health record"), a few words between the phrase's own
("replace the whole old ehr"), contractions ("I'm" is "I am") and a typo per long word
("paperwrok"). A phrase's filler words are optional, unless without them it would be one word
("our agency", "my resume"). Used for the sheet's need classes and nice-to-have signals
(DESIGN §3)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import Stemmer
from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

from .text import MAX_SCAN_CHARS

# Words that carry no meaning inside a phrase: skipped in the text and in the phrases.
FILLER: frozenset[str] = frozenset(
    {
        "a",
        "an",
        "the",
        "our",
        "my",
        "your",
        "their",
        "his",
        "her",
        "its",
        "this",
        "that",
        "these",
        "those",
        "some",
        "of",
        "s",
    }
)
_TOKEN = re.compile(r"[^\W_]+")
# The second half of a contraction once the apostrophe is gone ("i m", "we re", "don t").
_CONTRACTIONS = {"m": "am", "re": "are", "ve": "have", "ll": "will", "d": "would", "t": "not"}
_STEMMER = Stemmer.Stemmer("english")
# Words shorter than this are matched exactly ("ehr" is not "her").
_FUZZY_MIN_LETTERS = 5


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    return str(_STEMMER.stemWord(word))


@dataclass(frozen=True, slots=True)
class Hit:
    """One phrase found: the group it belongs to, the sheet's phrase and the words it matched."""

    group: str
    phrase: str
    text: str


@dataclass(frozen=True, slots=True)
class _Token:
    stem: str
    start: int
    end: int
    filler: bool


class PhraseMatcher:
    """Groups of phrases (group -> phrases), compiled once per sheet."""

    def __init__(
        self, groups: Mapping[str, Sequence[str]], *, max_gap: int = 2, typos: bool = True
    ) -> None:
        self.max_gap = max_gap
        self.typos = typos
        # first stem -> [(remaining stems, the same as a set, group, phrase)]
        self._index: dict[str, list[tuple[tuple[str, ...], frozenset[str], str, str]]] = {}
        words: dict[str, str] = {}  # a phrase word as written -> its stem
        for group, phrases in groups.items():
            for phrase in phrases:
                every = _TOKEN.findall(phrase.lower())
                parts = [w for w in every if w not in FILLER]
                if len(parts) < 2:
                    parts = every  # "our agency": the filler word is what makes it a phrase
                if not parts:
                    continue
                stems = tuple(stem(w) for w in parts)
                for w, s in zip(parts, stems, strict=True):
                    words[w] = s
                entry = (stems[1:], frozenset(stems[1:]), group, phrase)
                self._index.setdefault(stems[0], []).append(entry)
        self._stems = frozenset(words.values())
        self._long_words = tuple(w for w in words if len(w) >= _FUZZY_MIN_LETTERS)
        self._long_word_stems = tuple(words[w] for w in self._long_words)
        self._find = lru_cache(maxsize=1024)(self._find_uncached)

    def _correct(self, word: str, stemmed: str) -> str:
        """The stem of the phrase word `word` is a typo of (one edit, two from 8 letters on)."""
        if (
            not self.typos
            or stemmed in self._stems
            or len(word) < _FUZZY_MIN_LETTERS
            or not word.isalpha()
        ):
            return stemmed
        return self._closest(word) or stemmed

    @lru_cache(maxsize=8192)  # noqa: B019 - one matcher per sheet, kept for the sheet's life
    def _closest(self, word: str) -> str | None:
        edits = 1 if len(word) < 8 else 2
        found = process.extractOne(
            word, self._long_words, scorer=DamerauLevenshtein.distance, score_cutoff=edits
        )
        if found is None:
            return None
        return self._long_word_stems[found[2]]

    def _tokens(self, lower: str) -> list[_Token]:
        tokens: list[_Token] = []
        for m in _TOKEN.finditer(lower):
            word = m.group()
            if word in _CONTRACTIONS and tokens and m.start() > 0 and lower[m.start() - 1] in "'’":
                word = _CONTRACTIONS[word]
            filler = word in FILLER
            stemmed = word if filler else self._correct(word, stem(word))
            tokens.append(_Token(stemmed, m.start(), m.end(), filler))
        return tokens

    def find(self, text: str | None) -> tuple[Hit, ...]:
        """Every group's first hit in `text`, in the order the groups first match."""
        if not text or not self._index:
            return ()
        return self._find(text)

    def _find_uncached(self, text: str) -> tuple[Hit, ...]:
        capped = text[:MAX_SCAN_CHARS]
        lower = capped.lower()
        shown = capped if len(lower) == len(capped) else lower  # offsets hold for either
        tokens = self._tokens(lower)
        present = {t.stem for t in tokens}  # a phrase with a word the text lacks is not tried
        hits: dict[str, Hit] = {}
        for i, token in enumerate(tokens):
            for rest, needed, group, phrase in self._index.get(token.stem, ()):
                if group in hits or not needed <= present:
                    continue
                end = self._match_rest(tokens, i, rest)
                if end is not None:
                    hits[group] = Hit(group, phrase, shown[token.start : tokens[end].end])
        return tuple(hits.values())

    def _match_rest(self, tokens: list[_Token], i: int, rest: tuple[str, ...]) -> int | None:
        """The index of the token that ends the phrase begun at `i`, or None: each next word of
        the phrase comes after at most `max_gap` other words (filler words are free)."""
        at = i
        for wanted in rest:
            gap = 0
            j = at + 1
            while j < len(tokens):
                token = tokens[j]
                if token.stem == wanted:
                    at = j
                    break
                if not token.filler:
                    gap += 1
                    if gap > self.max_gap:
                        return None
                j += 1
            else:
                return None
        return at
