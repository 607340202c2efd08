"""Callsign skeletons: two callsigns that render alike on a map have the same skeleton.

A Cyrillic capital A (U+0410) or a zero-width space makes ``ALPHA`` a different string that a reader
cannot tell apart, so ownership compares skeletons, in the spirit of Unicode's confusable
detection (UTS #39) but with a small table of our own: compatibility forms are folded
(NFKD: full-width letters, ligatures, Roman numerals), combining marks and invisible format
characters (zero-width space and joiners, soft hyphen, direction marks) are dropped, case
is folded, runs of blanks become one space, and the Cyrillic and Greek letters that look
like Latin ones (in either case, as case folding maps capitals to these) become them.
"""

import re
import unicodedata

_LOOK_ALIKES = str.maketrans(
    # Cyrillic a ve ie io ze ka em en o er es te u ha, Ukrainian i and yi, je dze, Komi de, qa we
    # izhitsa shha palochka, soft sign (capitals fold to these first)
    "\u0430\u0432\u0435\u0451\u0437\u043a\u043c\u043d\u043e\u0440\u0441\u0442\u0443\u0445"
    "\u0456\u0457\u0458\u0455\u0501\u051b\u051d\u0475\u04bb\u04cf\u044c"
    # Greek alpha beta epsilon zeta eta iota kappa mu nu omicron rho tau upsilon chi, lunate
    # sigma, yot, final sigma
    "\u03b1\u03b2\u03b5\u03b6\u03b7\u03b9\u03ba\u03bc\u03bd\u03bf\u03c1\u03c4\u03c5\u03c7"
    "\u03f2\u03f3\u03c2"
    # Latin dotless i and j, script a, g and l; then i 0 1 |
    "\u0131\u0237\u0251\u0261\u2113i01|",
    "abee3kmhopctyxlljsdqwvhlbabezhlkmnoptyxcjcljaglloll",
)
"""Characters drawn like a Latin letter in common fonts (capitals in particular), to it;
``i``, ``1`` and ``|`` become ``l``, as a capital I and a small l are drawn alike."""

_DROPPED_CATEGORIES = frozenset({"Mn", "Me", "Cf"})
"""Combining marks and format characters: they change the string, hardly the glyphs."""

_BLANKS = re.compile(r"\s+")


def skeleton(text: str) -> str:
    """The form under which look-alike callsigns compare equal."""
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(char for char in decomposed if unicodedata.category(char) not in _DROPPED_CATEGORIES)
    folded = kept.casefold().translate(_LOOK_ALIKES)
    return _BLANKS.sub(" ", folded).strip()
