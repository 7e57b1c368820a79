"""Announcement text to pinyin for espeak-ng's `cmn-latn-pinyin` voice (devices.md §8.1–§8.2).

The voice is fed reviewed pinyin, never characters: its own dictionary misreads polyphones (重呼) and
reads digit runs as numbers. So templates carry their pinyin next to the characters, ticket letters are
sent as capital Latin words, ticket digits one by one, and window numbers as numbers. Pure functions.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.errors import BadArguments

DIGITS = ("ling2", "yi1", "er4", "san1", "si4", "wu3", "liu4", "qi1", "ba1", "jiu3")
YAO = "yao1"


@dataclass(frozen=True)
class Template:
    """Characters with `{ticket}`/`{window}` slots and their reviewed pinyin with the same slots."""

    text: str
    pinyin: str


CALL = Template("请{ticket}号到{window}号窗口办理", "qing3 {ticket} hao4 dao4 {window} hao4 chuang1 kou3 ban4 li3")
RECALL_PREFIX = Template("重呼", "chong2 hu1")


@dataclass(frozen=True)
class Announcement:
    """What is said (characters, for logs and screens) and what espeak-ng is fed (pinyin)."""

    text: str
    pinyin: str


def number_pinyin(n: int) -> str:
    """1..999 read as a number: 5 wu3, 12 shi2 er4, 20 er4 shi2, 105 yi1 bai3 ling2 wu3, 110 yi1 bai3 yi1 shi2."""
    if not 1 <= n <= 999:
        raise BadArguments(f"window number {n} is outside 1..999")
    hundreds, tens, ones = n // 100, n // 10 % 10, n % 10
    words: list[str] = []
    if hundreds:
        words += [DIGITS[hundreds], "bai3"]
        if tens == 0 and ones:
            words.append("ling2")
    if tens and not (tens == 1 and not hundreds):  # 10..19 say shi2, not yi1 shi2
        words.append(DIGITS[tens])
    if tens:
        words.append("shi2")
    if ones:
        words.append(DIGITS[ones])
    return " ".join(words)


def spelled_pinyin(code: str, *, yao: bool = False) -> str:
    """A ticket number: letters as capital Latin words, digits one by one (1 as yao1 if configured)."""
    words = []
    for char in code.strip():
        if char.isascii() and char.isalpha():
            words.append(char.upper())
        elif char.isascii() and char.isdigit():
            words.append(YAO if yao and char == "1" else DIGITS[int(char)])
        elif char not in "- ":
            raise BadArguments(f"cannot read {char!r} in {code!r}")
    if not words:
        raise BadArguments("empty ticket or window number")
    return " ".join(words)


def window_pinyin(window: str) -> str:
    """A window number as a number when it is 1..999, else spelled like a ticket (e.g. "A3")."""
    window = window.strip()
    if window.isascii() and window.isdigit() and 1 <= int(window) <= 999:
        return number_pinyin(int(window))
    return spelled_pinyin(window)


def call_announcement(ticket_no: str, window_no: str, *, recall: bool = False, yao: bool = False) -> Announcement:
    """请A001号到5号窗口办理 with its pinyin; a recall is prefixed with 重呼 (chong2 hu1)."""
    text = CALL.text.format(ticket=ticket_no, window=window_no)
    pinyin = CALL.pinyin.format(ticket=spelled_pinyin(ticket_no, yao=yao), window=window_pinyin(window_no))
    if recall:
        text, pinyin = RECALL_PREFIX.text + text, f"{RECALL_PREFIX.pinyin} {pinyin}"
    return Announcement(text, pinyin)


def draft_pinyin(text: str) -> str:
    """A first draft of pinyin with tone digits for configured text (hall names); a person reviews it.

    Uses pypinyin, imported here so that announcing never depends on it.
    """
    from pypinyin import Style, lazy_pinyin

    return " ".join(lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True))
