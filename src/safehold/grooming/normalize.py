"""Text normalisation that makes indicator patterns robust to how people actually type.

Chat text hides the same words behind leetspeak (``s3cr3t``), elongation (``sooo``), spacing
(``s e c r e t``), symbols (``$ecret``), emoji (a shushing face), abbreviations (``u``, ``pic``)
and typos. :func:`normalize` maps all of them onto one plain form so a pattern written once in
plain English matches every variant; :class:`SpellingCorrector` then fixes one-edit typos of the
words the patterns use.

The plain form: NFKC, case-folded, apostrophes dropped, every run of a repeated letter squeezed
to one letter (``meet`` and ``meeeet`` both become ``met``), tokens separated by one space.
Patterns are compiled through the same squeeze (:func:`squeeze`), so authors write normal
spelling. Digits stay digits unless they sit inside a word (``s3cr3t`` -> ``secret``), so ages
(``13``) survive. The leetspeak table is the common one (0-o, 1-i, 3-e, 4-a, 5-s, 7-t, 8-b,
9-g; @-a, $-s), as in Gupta et al. 2012's chat preprocessing and every moderation filter.
"""

from __future__ import annotations

import re
import unicodedata

_LEET = str.maketrans(
    {
        "0": "o",
        "1": "i",
        "3": "e",
        "4": "a",
        "5": "s",
        "7": "t",
        "8": "b",
        "9": "g",
        "@": "a",
        "$": "s",
        "!": "i",
    }
)
#: Emoji (and a few symbols) carrying an indicator's meaning -> plain words. Everything else
#: in the Symbol categories is dropped. Suggestive emoji map to a neutral marker token.
EMOJI_WORDS: dict[str, str] = {
    "\U0001f92b": "secret",
    "\U0001f910": "secret",
    "\U0001f4f7": "photo",
    "\U0001f4f8": "photo",
    "\U0001f4f9": "video",
    "\U0001f3a5": "video",
    "\U0001f381": "gift",
    "\U0001f4b0": "money",
    "\U0001f4b5": "money",
    "\U0001f4b8": "money",
    "\U0001f4b2": "money",
    "\U0001f618": "kiss",
    "\U0001f48b": "kiss",
    "\U0001f60d": "love",
    "\U0001f970": "love",
    "\u2764": "love",
    "\u2665": "love",
    "\U0001f495": "love",
    "\U0001f496": "love",
    "\U0001f3ae": "game",
    "\U0001f351": "suggestiveemoji",
    "\U0001f346": "suggestiveemoji",
    "\U0001f4a6": "suggestiveemoji",
    "\U0001f51e": "adultonly",
    "\U0001f608": "naughty",
    "\U0001f4f1": "phone",
    "\U0001f697": "car",
    "\U0001f3e0": "home",
}
#: Chat abbreviations -> words (applied to squeezed tokens; keys are squeezed at import).
ABBREVIATIONS: dict[str, str] = {
    "u": "you",
    "ya": "you",
    "yu": "you",
    "ur": "your",
    "youre": "you are",
    "r": "are",
    "pic": "picture",
    "pics": "pictures",
    "pix": "pictures",
    "picz": "pictures",
    "foto": "photo",
    "fotos": "photos",
    "selfie": "picture",
    "selfies": "pictures",
    "vid": "video",
    "vids": "videos",
    "bf": "boyfriend",
    "gf": "girlfriend",
    "ppl": "people",
    "pls": "please",
    "plz": "please",
    "rn": "right now",
    "wanna": "want to",
    "ill": "i will",
    "youll": "you will",
    "theyll": "they will",
    "gonna": "going to",
    "gotta": "got to",
    "dont": "do not",
    "cant": "can not",
    "wont": "will not",
    "didnt": "did not",
    "im": "i am",
    "ive": "i have",
    "thx": "thanks",
    "ty": "thank you",
    "bday": "birthday",
    "2day": "today",
    "2nite": "tonight",
    "tonite": "tonight",
    "2moro": "tomorrow",
    "tmrw": "tomorrow",
    "tmr": "tomorrow",
    "gr8": "great",
    "l8r": "later",
    "b4": "before",
    "4u": "for you",
    "w8": "wait",
    "cuz": "because",
    "coz": "because",
    "bc": "because",
    "dm": "direct message",
    "dms": "direct messages",
    "pm": "private message",
    "msg": "message",
    "addy": "address",
    "mum": "mom",
    "mommy": "mom",
    "mama": "mom",
    "momma": "mom",
    "daddy": "dad",
    "rents": "parents",
    "parentals": "parents",
    "pw": "password",
    "yr": "year",
    "yrs": "years",
    "lil": "little",
    "sum1": "someone",
    "some1": "someone",
    "any1": "anyone",
    "no1": "no one",
    "k": "ok",
    "okay": "ok",
    "whats": "what is",
    "wat": "what",
    "wut": "what",
    "hw": "homework",
    "luv": "love",
    "hun": "honey",
    "vc": "voice chat",
    "irl": "in real life",
}
_ZERO_WIDTH = re.compile("[\u200b-\u200f\u2060-\u2064\ufeff\u00ad]")
_SYMBOL_IN_WORD = re.compile(r"(?<=[a-z0-9])[@$!](?=[a-z0-9])|(?<![a-z0-9])[@$](?=[a-z])")
_SEPARATED = re.compile(r"(?<![a-z0-9])(?:[a-z][ .\-_*]){3,}[a-z](?![a-z0-9])")
_TOKEN = re.compile(r"[a-z0-9]+")
_NUMBER_UNIT = re.compile(r"^(\d{1,3})(yo|yrs|yr|y|f|m|th|st|nd|rd|am|pm|k|s)$|^([fm])(\d{1,2})$")
#: "4 you" -> "for you", "2 meet" -> "to meet": a digit standing for a word before these.
_NUMBER_WORDS = {"4": "for", "2": "to"}
_NUMBER_WORD_NEXT_SPELLED = (
    "you your me real free sure now ever meet see talk chat go be get keep send show"
)
_REPEAT = re.compile(r"([a-z])\1+")
_ELONGATED = re.compile(r"([a-z])\1{2,}")  # 3+ of a letter -> 2 (kisssed -> kissed)


def squeeze(text: str) -> str:
    """Collapse every run of one repeated ASCII letter to one letter (``sooo`` -> ``so``).

    Used on both messages and pattern sources, so the two always agree.
    """
    return _REPEAT.sub(r"\1", text)


_ABBREVIATIONS = {squeeze(k): squeeze(v) for k, v in ABBREVIATIONS.items()}
_NUMBER_WORD_NEXT = frozenset(squeeze(_NUMBER_WORD_NEXT_SPELLED).split())
_NUMBER_WORD_NEXT_READABLE = frozenset(_NUMBER_WORD_NEXT_SPELLED.split())


#: What :func:`_emoji_to_words` does to ASCII: its two modifier symbols (category Sk) become
#: spaces; NFKC, NFKD, the zero-width characters and accents leave ASCII as it is.
_ASCII_SYMBOLS = str.maketrans({"^": " ", "`": " "})


def _emoji_to_words(text: str) -> str:
    out: list[str] = []
    for char in text:
        word = EMOJI_WORDS.get(char)
        if word is not None:
            out.append(f" {word} ")
        elif unicodedata.category(char) in ("So", "Sk", "Cs", "Co", "Cn"):
            out.append(" ")
        else:
            out.append(char)
    return "".join(out)


def _fix_token(token: str, plain: bool) -> list[str]:
    unit = _NUMBER_UNIT.match(token)
    if unit:
        if unit.group(1):
            return [unit.group(1), unit.group(2)]
        return [unit.group(3), unit.group(4)]
    if token.isdigit():
        return [token]
    shrink = squeeze if plain else _unelongate
    table = _ABBREVIATIONS if plain else ABBREVIATIONS
    expanded = table.get(token)
    if expanded is None and any(c.isdigit() for c in token):
        expanded = table.get(shrink(token)) or shrink(token.translate(_LEET))
    word = expanded if expanded is not None else shrink(token)
    if expanded is None:
        word = table.get(word, word)
    return word.split()


def _unelongate(text: str) -> str:
    return _ELONGATED.sub(r"\1\1", text)


def normalize(text: str, *, plain: bool = True) -> str:
    """Return the plain form of one message (see the module docstring).

    Args:
        text: the message as sent; any Unicode.
        plain: squeeze every repeated letter (the pattern form). With False, only runs of
            three or more letters shrink to two and spelling stays readable (``keep``, not
            ``kep``; ``kisssed`` -> ``kissed``): the form the embedding model reads.

    Returns:
        Lower-case ASCII-ish tokens separated by single spaces; ``""`` for a message with no
        words. Deterministic and pure.
    """
    if text.isascii():  # most chat: the steps below reduce to this (same result, 3x faster)
        text = text.translate(_ASCII_SYMBOLS).lower()
    else:
        text = unicodedata.normalize("NFKC", text)
        text = _ZERO_WIDTH.sub("", text)
        text = _emoji_to_words(text).casefold()
        text = "".join(
            c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
        )
    text = text.replace("'", "").replace("\u2019", "").replace("`", "")
    text = _SYMBOL_IN_WORD.sub(lambda m: m.group(0).translate(_LEET), text)
    text = _SEPARATED.sub(lambda m: re.sub(r"[ .\-_*]", "", m.group(0)), text)
    words: list[str] = []
    for token in _TOKEN.findall(text):
        words.extend(_fix_token(token, plain))
    following = _NUMBER_WORD_NEXT if plain else _NUMBER_WORD_NEXT_READABLE
    for i in range(len(words) - 1):
        if words[i] in _NUMBER_WORDS and words[i + 1] in following:
            words[i] = _NUMBER_WORDS[words[i]]
    return " ".join(words)


class SpellingCorrector:
    """Fix one-edit typos (``secrit``, ``pictre``) of the words indicator patterns use.

    Symmetric-delete lookup (Garbe's SymSpell, edit distance 1): a token of at least
    ``min_length`` letters that is not itself a vocabulary word is replaced by the vocabulary
    word one insertion, deletion or substitution away, when exactly one such word exists.

    Args:
        vocabulary: words in plain (squeezed) form, e.g. from the patterns.
        min_length: shorter words are never corrected (too many near neighbours).
    """

    def __init__(self, vocabulary: set[str], min_length: int = 6) -> None:
        self.min_length = min_length
        self.vocabulary = {w for w in vocabulary if len(w) >= min_length and w.isalpha()}
        self._deletes: dict[str, set[str]] = {}
        for word in self.vocabulary:
            for variant in {word, *_deletions(word)}:
                self._deletes.setdefault(variant, set()).add(word)
        self._cache: dict[str, str] = {}

    def correct(self, normalized: str) -> str:
        """Return ``normalized`` with each unknown long token replaced by its unique fix."""
        return " ".join(self._word(w) for w in normalized.split())

    def _word(self, token: str) -> str:
        if len(token) < self.min_length or token in self.vocabulary or not token.isalpha():
            return token
        cached = self._cache.get(token)
        if cached is not None:
            return cached
        candidates: set[str] = set(self._deletes.get(token, ()))
        for variant in _deletions(token):
            candidates |= self._deletes.get(variant, set())
        close = {c for c in candidates if _one_edit(token, c)}
        fixed = close.pop() if len(close) == 1 else token
        if len(self._cache) < 100_000:
            self._cache[token] = fixed
        return fixed


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def _one_edit(a: str, b: str) -> bool:
    if a == b:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long = (a, b) if len(a) < len(b) else (b, a)
    if len(long) - len(short) != 1:
        return False
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))
