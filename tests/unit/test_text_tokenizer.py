"""The runtime's WordPiece tokenizer against Hugging Face ``tokenizers`` reading the encoder's tokenizer.json:
token for token on both text sets in ../shared and on generated strings full of edge cases."""
from __future__ import annotations

import csv
import unicodedata
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from edgetl.runtime.tokenizer import WordPieceTokenizer

tokenizers = pytest.importorskip("tokenizers")
MINILM = "weights/all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def pair(shared: Path) -> tuple[WordPieceTokenizer, object]:
    folder = shared / MINILM
    ref = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
    ref.no_padding()
    ref.enable_truncation(512)
    vocab = (folder / "vocab.txt").read_text(encoding="utf-8").split("\n")
    return WordPieceTokenizer(tuple(vocab[:-1] if vocab[-1] == "" else vocab), max_length=512), ref


@pytest.mark.parametrize("name", ["sms_spam", "trec6"])
def test_same_ids_as_tokenizers_on_every_text_of_the_set(pair, shared: Path, name: str) -> None:
    tok, ref = pair
    with open(shared / "datasets" / name / f"{name}.csv", encoding="utf-8", newline="") as f:
        texts = [r["text"] for r in csv.DictReader(f)]
    assert len(texts) > 4000
    differ = [t for t in texts if tok.encode(t) != ref.encode(t).ids]
    assert not differ, differ[:3]


EDGE = "aZé ü\t\n\u00a0\u2028\x00\x0b\ufffd中文,.!?$+<>^`|~ΣΟΔΟΣİı\u0301\u200b\u3000ﬁ①-'\"😀\x85\u2019x"


# Generated characters are those whose Unicode category has not changed since Unicode 3.2 (Python keeps that
# table as unicodedata.ucd_3_2_0): tokenizers' punctuation, control and combining-mark tables are an older
# Unicode version than Python's, so a character assigned since (U+061D, an Arabic mark since Unicode 14) is
# punctuation here and part of a word there. Unassigned code points are in, and agree.
CHARS = st.sampled_from(list(EDGE)) | st.characters(exclude_categories=("Cs",)).filter(
    lambda c: unicodedata.ucd_3_2_0.category(c) == unicodedata.category(c))


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=CHARS, max_size=60))
def test_same_ids_as_tokenizers_on_generated_text(pair, text: str) -> None:
    tok, ref = pair
    # tokenizers turns a literal "[SEP]" in the input into the separator; edgetl keeps it as text on purpose
    assume(not any(s in text for s in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")))
    assert tok.encode(text) == ref.encode(text).ids


def test_truncation_padding_and_long_words(pair) -> None:
    tok, ref = pair
    assert tok.encode("a" * 100) == ref.encode("a" * 100).ids and tok.tokens("a" * 101) == ["[UNK]"]
    assert tok.tokens("[SEP] x") == ["[", "sep", "]", "x"]  # a user's text never injects a special token
    ids = tok.batch(["what is a word ?", "hi " * 50], max_length=8)
    assert ids.shape == (2, 8) and ids.dtype.name == "int32"
    assert ids[0, -1] == tok.pad_id and ids[1, 0] == 101 and ids[1, -1] == 102  # [CLS] ... [SEP], cut to fit
    again = WordPieceTokenizer.from_dict(tok.to_dict())
    assert again.encode("Round trip through a contract!") == tok.encode("Round trip through a contract!")


def test_a_contract_tokenizer_without_special_tokens_is_refused() -> None:
    with pytest.raises(ValueError, match="special token"):
        WordPieceTokenizer(("a", "b"), max_length=8)
    with pytest.raises(ValueError, match="wordpiece"):
        WordPieceTokenizer.from_dict({"type": "bpe", "vocab": []})
