"""Text from input files or the warehouse, made safe to print on a terminal.

A cell value, file name or sheet name can hold a newline (a forged line of output, such as
a fake "published" status line), an escape sequence (ESC[2K erases the line it is printed
on, OSC sets the window title or a hyperlink) or a Unicode bidi override (text shown in
another order than it is stored). Every such character is printed as a visible escape, so
one value is one line and shows what the file holds; ordinary text is printed unchanged.
"""

from __future__ import annotations

# Named escapes for the controls a reader recognises (Python's own spellings).
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Characters that reorder the text around them (embeddings, overrides, isolates, marks):
# shown as \uXXXX so the printed order is the stored order.
BIDI_CONTROLS = (
    "\u061c",
    "\u200e",
    "\u200f",
    *(chr(code) for code in range(0x202A, 0x202F)),
    *(chr(code) for code in range(0x2066, 0x206A)),
)
# Line and paragraph separators some terminals and viewers break a line at.
LINE_SEPARATORS = ("\u2028", "\u2029")


def _table() -> dict[int, str]:
    table: dict[int, str] = {}
    # C0 controls, DEL and the C1 controls (0x9b is a one-byte CSI on some terminals)
    for code in (*range(0x20), 0x7F, *range(0x80, 0xA0)):
        table[code] = _NAMED.get(chr(code), f"\\x{code:02x}")
    for character in (*BIDI_CONTROLS, *LINE_SEPARATORS):
        table[ord(character)] = f"\\u{ord(character):04x}"
    return table


_ESCAPES = _table()


def terminal_text(value: object) -> str:
    """``value`` as one printable line: control characters, bidi controls and line
    separators become visible escapes (newline ``\\n``, ESC ``\\x1b``, U+202E ``\\u202e``);
    anything else is unchanged."""
    return str(value).translate(_ESCAPES)
