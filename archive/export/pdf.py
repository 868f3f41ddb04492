"""A plain-text PDF writer (PDF 1.4, A4, the standard Courier fonts): no dependency, no fonts
embedded, nothing fetched, the same bytes for the same input.

Text is laid out top to bottom in lines of a monospaced font (wrapping is exact: every
character is 0.6 em wide), pages break as needed and each carries a footer with its number.
Characters outside Windows-1252 are shown as ``?`` (the standard fonts have no others).
Content streams are compressed with zlib (FlateDecode).
"""

from __future__ import annotations

import textwrap
import zlib
from dataclasses import dataclass
from datetime import datetime

from archive.redact import scrub

__all__ = ["PdfText"]

_W, _H, _MARGIN = 595.28, 841.89, 50.0  # A4 in points
_CHAR_EM = 0.6  # Courier's advance width


@dataclass(frozen=True)
class _Line:
    text: str
    size: float
    bold: bool
    gap: float = 0.0  # extra space above, in points


def _escape(text: str) -> bytes:
    data = text.encode("cp1252", errors="replace")
    data = bytes(b if b >= 32 else 63 for b in data)  # no control characters
    return data.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _pdf_date(when: datetime) -> str:
    return when.strftime("D:%Y%m%d%H%M%SZ")


class PdfText:
    """A document being written line by line; :meth:`build` returns the PDF's bytes."""

    def __init__(self, title: str, footer: str, *, created: datetime | None = None, size: float = 8.5) -> None:
        self._title = title
        self._footer = footer
        self._created = created
        self._size = size
        self._lines: list[_Line] = []

    def cols(self, size: float | None = None) -> int:
        """Characters that fit on one line at ``size`` points."""
        return int((_W - 2 * _MARGIN) / (_CHAR_EM * (size or self._size)))

    def _wrap(self, text: str, width: int, indent: int = 0, hang: int = 0) -> list[str]:
        out: list[str] = []
        for para in scrub(text).split("\n"):  # every text passes here: no credential is printed
            out += textwrap.wrap(para, width=max(10, width - indent), initial_indent=" " * indent,
                                 subsequent_indent=" " * (indent + hang), break_long_words=True,
                                 break_on_hyphens=False, drop_whitespace=True) or [""]  # fmt: skip
        return out

    def heading(self, text: str, level: int = 1) -> None:
        """A bold heading (level 1 larger), with space above."""
        size = self._size + (4.5 if level == 1 else 2.0)
        for i, line in enumerate(self._wrap(text, self.cols(size))):
            self._lines.append(_Line(line, size, True, (10.0 if level == 1 else 6.0) if i == 0 else 0.0))

    def paragraph(self, text: str, *, indent: int = 0, hang: int = 0, bold: bool = False, gap: float = 0.0) -> None:
        """Wrapped text; ``indent`` characters on every line, ``hang`` more after the first."""
        for i, line in enumerate(self._wrap(text, self.cols(), indent, hang)):
            self._lines.append(_Line(line, self._size, bold, gap if i == 0 else 0.0))

    def field(self, label: str, value: str, *, width: int = 22) -> None:
        """``label`` then ``value`` beside it, wrapped under itself."""
        lines = self._wrap(value, self.cols() - width) if value else [""]
        self._lines.append(_Line(label.ljust(width)[:width] + lines[0], self._size, False, 2.0))
        self._lines.extend(_Line(" " * width + rest, self._size, False) for rest in lines[1:])

    def blank(self) -> None:
        """An empty line."""
        self._lines.append(_Line("", self._size, False))

    def _pages(self) -> list[list[tuple[float, _Line]]]:
        pages: list[list[tuple[float, _Line]]] = [[]]
        top, bottom = _H - _MARGIN, _MARGIN + 2 * self._size
        y = top
        for line in self._lines:
            step = line.size * 1.25 + (line.gap if pages[-1] else 0.0)
            if y - step < bottom and pages[-1]:
                pages.append([])
                y, step = top, line.size * 1.25
            y -= step
            pages[-1].append((y, line))
        return pages

    def build(self) -> bytes:
        """The PDF file's bytes."""
        pages = self._pages()
        n = len(pages)
        objects: list[bytes] = [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"",  # the page tree, filled below
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Courier /Encoding /WinAnsiEncoding >>",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Courier-Bold /Encoding /WinAnsiEncoding >>",
        ]
        info = b"<< /Title (" + _escape(self._title) + b") /Producer (archive export)"
        if self._created is not None:
            info += b" /CreationDate (" + _pdf_date(self._created).encode() + b")"
        objects.append(info + b" >>")
        kids = []
        for i, page in enumerate(pages, 1):
            ops = [b"BT"]
            for y, line in page:
                font = b"/F2" if line.bold else b"/F1"
                text = _escape(line.text)
                ops.append(b"%s %.2f Tf 1 0 0 1 %.2f %.2f Tm (%s) Tj" % (font, line.size, _MARGIN, y, text))
            foot = f"{self._footer} - page {i} of {n}"
            ops.append(b"/F1 %.2f Tf 1 0 0 1 %.2f %.2f Tm (%s) Tj" % (self._size - 1, _MARGIN, _MARGIN - 10,
                                                                      _escape(foot)))  # fmt: skip
            ops.append(b"ET")
            stream = zlib.compress(b"\n".join(ops), 9)
            objects.append(b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(stream), stream))
            content = len(objects)
            objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] /Resources << /Font << /F1 3 0 R "
                           b"/F2 4 0 R >> >> /Contents %d 0 R >>" % (_W, _H, content))  # fmt: skip
            kids.append(b"%d 0 R" % len(objects))
        objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), n)
        out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for num, body in enumerate(objects, 1):
            offsets.append(len(out))
            out += b"%d 0 obj\n%s\nendobj\n" % (num, body)
        xref = len(out)
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
        out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
        out += b"trailer\n<< /Size %d /Root 1 0 R /Info 5 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
        return bytes(out)
