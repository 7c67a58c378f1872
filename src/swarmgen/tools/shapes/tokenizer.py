"""A CLIP-format BPE vocabulary built locally from the shapes grammar.

CLIP's tokenizer reads ``vocab.json`` and ``merges.txt``. We learn merges with plain
BPE over the grammar's words until each word is one token, on top of CLIP's 512
byte-level base symbols, so any prompt still tokenizes (unknown words split into
pieces) and the files load with the stock ``CLIPTokenizer``.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from pathlib import Path

from swarmgen.tools.shapes.scenes import COLORS, RELATIONS, SHAPES, SIZES

BOS = "<|startoftext|>"
EOS = "<|endoftext|>"
MAX_LENGTH = 32
"""Tokens per prompt, start and end tokens included."""
_END = "</w>"


def grammar_words() -> list[str]:
    """Every word a shapes caption can contain, sorted."""
    words = {"a", "an", "and", "on", "background", ","}
    words.update(COLORS, SHAPES, SIZES)
    for relation in RELATIONS:
        words.update(relation.split())
    return sorted(words)


def _byte_symbols() -> list[str]:
    """CLIP's reversible byte-to-unicode table, in its order."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    codes = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            codes.append(256 + extra)
            extra += 1
    return [chr(c) for c in codes]


def learn_merges(words: list[str]) -> list[tuple[str, str]]:
    """Greedy BPE (most frequent pair first, ties by text) until each word is one symbol."""
    pieces = {w: [*w[:-1], w[-1] + _END] for w in words}
    merges: list[tuple[str, str]] = []
    while True:
        pairs: Counter[tuple[str, str]] = Counter()
        for symbols in pieces.values():
            pairs.update(itertools.pairwise(symbols))
        if not pairs:
            return merges
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        for word, symbols in pieces.items():
            merged: list[str] = []
            i = 0
            while i < len(symbols):
                if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == best:
                    merged.append(symbols[i] + symbols[i + 1])
                    i += 2
                else:
                    merged.append(symbols[i])
                    i += 1
            pieces[word] = merged


def build_vocabulary() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """``(vocab, merges)`` in CLIP's layout: bytes, bytes + ``</w>``, merges, specials."""
    base = _byte_symbols()
    tokens = base + [b + _END for b in base]
    merges = learn_merges(grammar_words())
    tokens += ["".join(pair) for pair in merges]
    tokens += [BOS, EOS]
    return {token: i for i, token in enumerate(tokens)}, merges


def write_tokenizer_files(folder: Path) -> tuple[Path, Path]:
    """Write ``vocab.json`` and ``merges.txt`` into ``folder``; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    vocab, merges = build_vocabulary()
    vocab_path, merges_path = folder / "vocab.json", folder / "merges.txt"
    vocab_path.write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    lines = ["#version: 0.2", *(f"{a} {b}" for a, b in merges)]
    merges_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return vocab_path, merges_path


def build_tokenizer() -> object:
    """A ``CLIPTokenizer`` over the locally built vocabulary."""
    from transformers import CLIPTokenizer

    vocab, merges = build_vocabulary()
    # The annotation says list[str]; the tokenizers backend only accepts (left, right) pairs.
    return CLIPTokenizer(
        vocab=vocab,
        merges=merges,  # type: ignore[arg-type]
        model_max_length=MAX_LENGTH,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=EOS,
        unk_token=EOS,
    )


def save_tokenizer(tokenizer: object, folder: Path) -> None:
    """Save ``tokenizer`` plus the plain ``vocab.json``/``merges.txt`` older readers need."""
    tokenizer.save_pretrained(str(folder))  # type: ignore[attr-defined]
    write_tokenizer_files(folder)
