"""The locally built CLIP vocabulary."""

from __future__ import annotations

from pathlib import Path

from swarmgen.tools.shapes.tokenizer import (
    BOS,
    EOS,
    build_tokenizer,
    build_vocabulary,
    grammar_words,
    learn_merges,
    write_tokenizer_files,
)


def _apply(word: str, merges: list[tuple[str, str]]) -> list[str]:
    symbols = [*word[:-1], word[-1] + "</w>"]
    for pair in merges:
        i, out = 0, []
        while i < len(symbols):
            if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
                out.append(symbols[i] + symbols[i + 1])
                i += 2
            else:
                out.append(symbols[i])
                i += 1
        symbols = out
    return symbols


def test_merges_make_every_word_one_symbol() -> None:
    words = ["red", "green", "gray", "rectangle"]
    merges = learn_merges(words)
    assert all(_apply(w, merges) == [w + "</w>"] for w in words)


def test_vocabulary_is_deterministic_and_dense() -> None:
    vocab, merges = build_vocabulary()
    assert (vocab, merges) == build_vocabulary()
    assert sorted(vocab.values()) == list(range(len(vocab)))
    assert vocab[EOS] == len(vocab) - 1 and vocab[BOS] == len(vocab) - 2
    assert all(w + "</w>" in vocab for w in grammar_words())


def test_clip_tokenizer_gives_one_token_per_word(tmp_path: Path) -> None:
    tokenizer = build_tokenizer()
    for word in grammar_words():
        assert len(tokenizer(word, add_special_tokens=False).input_ids) == 1, word
    ids = tokenizer("a red circle on a white background").input_ids
    assert ids[0] == tokenizer.bos_token_id and ids[-1] == tokenizer.eos_token_id
    assert len(ids) == 9
    vocab_path, merges_path = write_tokenizer_files(tmp_path)
    assert merges_path.read_text("utf-8").startswith("#version")
    assert vocab_path.stat().st_size > 0
