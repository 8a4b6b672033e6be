"""BERT WordPiece tokenization in plain Python: what a text model's contract carries, so a device needs nothing else.

The same steps, in the same order, as Hugging Face ``tokenizers``' ``BertNormalizer`` + ``BertPreTokenizer``
+ ``WordPiece`` + the ``[CLS] ... [SEP]`` template (tests compare them token for token on real texts and
on generated ones):

1. clean: drop NUL, U+FFFD and control/format characters (tab, newline and carriage return count as
   spaces); every whitespace character becomes a space;
2. put spaces around CJK ideographs;
3. strip accents (NFD, drop combining marks) when lower-casing, unless told otherwise; lower-case;
4. split on whitespace, and put every punctuation character (ASCII punctuation and Unicode P*) on its own;
5. WordPiece: greedy longest match from the vocabulary, ``##`` before a continuation; a word with a piece
   not in the vocabulary, or longer than 100 characters, becomes ``[UNK]``.

Known difference: ``tokenizers`` classifies punctuation with older Unicode tables than Python's
``unicodedata``, so punctuation of scripts added to Unicode since (outside the Basic Multilingual Plane,
such as U+16E97) splits a word here and not there. And a literal ``[SEP]`` (or another special token)
in a text stays text here, where ``tokenizers`` turns it into the special token: a user's text cannot
inject a separator.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

_RUST_WHITESPACE = frozenset("\t\n\x0b\x0c\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000"
                             + "".join(chr(c) for c in range(0x2000, 0x200B)))
_CJK = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
        (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))
_DROPPED = frozenset(("Cc", "Cf", "Co", "Cs"))  # control, format, private use; unassigned (Cn) stays, as [UNK]
MAX_TEXT_CHARS = 100_000  # longer texts are cut before tokenizing: the model sees max_length tokens anyway
# Bounds on a tokenizer read from a contract or a vocabulary file (BERT: 512 tokens, 100 characters a word, 30,522
# pieces; the largest public WordPiece vocabularies hold a few hundred thousand)
MAX_SEQUENCE = 4096
MAX_WORD_CHARS = 200
MAX_VOCAB = 2_000_000


def _is_cjk(cp: int) -> bool:
    return any(a <= cp <= b for a, b in _CJK)


def _is_punct(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def normalize(text: str, *, lowercase: bool = True, strip_accents: bool | None = None,
              chinese_chars: bool = True) -> str:
    out = []
    for ch in text:
        cp = ord(ch)
        cat = unicodedata.category(ch)
        if ch in "\t\n\r" or ch in _RUST_WHITESPACE and cat not in _DROPPED:
            out.append(" ")
        elif cp == 0 or cp == 0xFFFD or cat in _DROPPED:
            continue
        elif chinese_chars and _is_cjk(cp):
            out.append(f" {ch} ")
        else:
            out.append(ch)
    s = "".join(out)
    if strip_accents if strip_accents is not None else lowercase:
        s = "".join(c for c in unicodedata.normalize("NFD", s) if unicodedata.category(c) != "Mn")
    return "".join(c.lower() for c in s) if lowercase else s  # per character, as tokenizers does (no final sigma)


def pre_tokenize(text: str) -> list[str]:
    words: list[str] = []
    cur: list[str] = []
    for ch in text:
        if ch in _RUST_WHITESPACE:
            if cur:
                words.append("".join(cur))
                cur = []
        elif _is_punct(ch):
            if cur:
                words.append("".join(cur))
                cur = []
            words.append(ch)
        else:
            cur.append(ch)
    if cur:
        words.append("".join(cur))
    return words


@dataclass(frozen=True)
class WordPieceTokenizer:
    """A BERT tokenizer; ``to_dict`` is what a contract stores (vocabulary in id order)."""

    vocab: tuple[str, ...]
    max_length: int = 128
    lowercase: bool = True
    strip_accents: bool | None = None
    chinese_chars: bool = True
    unk: str = "[UNK]"
    cls: str = "[CLS]"
    sep: str = "[SEP]"
    pad: str = "[PAD]"
    prefix: str = "##"
    max_word_chars: int = 100
    _ids: dict[str, int] = field(default_factory=dict, compare=False, repr=False)
    _lengths: dict[str, tuple[int, ...]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not 3 <= self.max_length <= MAX_SEQUENCE:
            raise ValueError(f"max_length must be 3..{MAX_SEQUENCE} ([CLS] x [SEP]); got {self.max_length}")
        if not 1 <= self.max_word_chars <= MAX_WORD_CHARS:
            raise ValueError(f"max_word_chars must be 1..{MAX_WORD_CHARS} (BERT uses 100); got {self.max_word_chars}")
        if not 1 <= len(self.prefix) <= 16:
            raise ValueError(f"the continuing prefix must be 1..16 characters; got {self.prefix[:20]!r}")
        if len(self.vocab) > MAX_VOCAB:
            raise ValueError(f"the vocabulary has {len(self.vocab):,} entries, over {MAX_VOCAB:,}")
        ids = {t: i for i, t in enumerate(self.vocab)}
        missing = [t for t in (self.unk, self.cls, self.sep, self.pad) if t not in ids]
        if missing:
            raise ValueError(f"the vocabulary lacks the special token(s) {[m[:40] for m in missing]}")
        self._ids.update(ids)
        # The piece lengths that can match at all: the greedy longest match tries only these (the same result as
        # trying every length), so a long word costs (characters x distinct lengths), not its length cubed.
        cap = self.max_word_chars
        self._lengths["head"] = tuple(sorted({len(t) for t in self.vocab if len(t) <= cap}, reverse=True))
        n = len(self.prefix)
        self._lengths["tail"] = tuple(sorted({len(t) - n for t in self.vocab if t.startswith(self.prefix)
                                              and 0 < len(t) - n <= cap}, reverse=True))

    @property
    def pad_id(self) -> int:
        return self._ids[self.pad]

    def tokens(self, text: str, limit: int | None = None) -> list[str]:
        """The word pieces of ``text`` (no special tokens); with ``limit``, only the first ``limit`` of them."""
        norm = normalize(text[:MAX_TEXT_CHARS], lowercase=self.lowercase, strip_accents=self.strip_accents,
                         chinese_chars=self.chinese_chars)
        out: list[str] = []
        for word in pre_tokenize(norm):
            out.extend(self._wordpiece(word))
            if limit is not None and len(out) >= limit:  # the model sees no more: stop tokenizing
                return out[:limit]
        return out

    def _wordpiece(self, word: str) -> list[str]:
        if len(word) > self.max_word_chars:
            return [self.unk]
        pieces, start = [], 0
        while start < len(word):
            left = len(word) - start
            for n in self._lengths["head" if start == 0 else "tail"]:
                if n > left:
                    continue
                piece = word[start:start + n] if start == 0 else self.prefix + word[start:start + n]
                if piece in self._ids:
                    break
            else:
                return [self.unk]
            pieces.append(piece)
            start += n
        return pieces

    def encode(self, text: str, max_length: int | None = None) -> list[int]:
        """``[CLS] pieces [SEP]`` ids, the pieces cut so the whole fits ``max_length``."""
        n = (max_length or self.max_length) - 2
        return [self._ids[self.cls], *(self._ids[t] for t in self.tokens(text, n)), self._ids[self.sep]]

    def batch(self, texts: Iterable[str], max_length: int | None = None) -> np.ndarray:
        """int32 ids, (len(texts), max_length), padded with the pad id (the model masks those out)."""
        length = max_length or self.max_length
        rows = [self.encode(t, length) for t in texts]
        out = np.full((len(rows), length), self.pad_id, np.int32)
        for i, r in enumerate(rows):
            out[i, :len(r)] = r
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"type": "wordpiece", "vocab": list(self.vocab), "max_length": self.max_length,
                "lowercase": self.lowercase, "strip_accents": self.strip_accents, "chinese_chars": self.chinese_chars,
                "special": {"unk": self.unk, "cls": self.cls, "sep": self.sep, "pad": self.pad},
                "continuing_prefix": self.prefix, "max_word_chars": self.max_word_chars}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "WordPieceTokenizer":
        """The tokenizer a contract describes; ValueError (one sentence) for anything malformed or out of bounds."""
        if not isinstance(d, dict) or d.get("type") != "wordpiece":
            raise ValueError(f"tokenizer type {str(d.get('type') if isinstance(d, dict) else d)[:40]!r} (edgetl "
                             "reads wordpiece)")
        if not isinstance(d.get("vocab"), list) or "max_length" not in d:
            raise ValueError("a tokenizer is an object with a vocab list and max_length")
        vocab = d["vocab"]
        if not isinstance(vocab, list) or len(vocab) > MAX_VOCAB or not all(isinstance(t, str) for t in vocab):
            raise ValueError(f"tokenizer vocab must be a list of at most {MAX_VOCAB:,} strings")
        sp = d.get("special", {})
        if not isinstance(sp, dict):
            raise ValueError("tokenizer special must be an object")
        sa = d.get("strip_accents")
        return cls(tuple(vocab), max_length=_int(d["max_length"], "max_length"), lowercase=bool(d.get("lowercase", True)),
                   strip_accents=None if sa is None else bool(sa), chinese_chars=bool(d.get("chinese_chars", True)),
                   unk=str(sp.get("unk", "[UNK]")), cls=str(sp.get("cls", "[CLS]")), sep=str(sp.get("sep", "[SEP]")),
                   pad=str(sp.get("pad", "[PAD]")), prefix=str(d.get("continuing_prefix", "##")),
                   max_word_chars=_int(d.get("max_word_chars", 100), "max_word_chars"))

    @classmethod
    def from_vocab(cls, vocab: Sequence[str], **kw: Any) -> "WordPieceTokenizer":
        return cls(tuple(vocab), **kw)


def _int(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"tokenizer {what} must be an integer, not {str(v)[:40]!r}")
    return v
