"""One-page PDFs with a text layer, written by hand (no dependency).

The demo data and the README's sample files are invoices as a supplier would send
them: a PDF whose text the document reader (pypdf) can read. Only printable ASCII is
written (Helvetica, standard encoding).
"""

from __future__ import annotations

PAGE_WIDTH = 595  # A4 in points
PAGE_HEIGHT = 842
FONT_SIZE = 11
LEADING = 16
MARGIN = 56


def _escaped(line: str) -> str:
    if any(not (" " <= char <= "~") for char in line):
        raise ValueError(f"only printable ASCII can be written: {line!r}")
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def text_pdf(lines: list[str]) -> bytes:
    """A valid PDF 1.4 of one A4 page showing `lines` top to bottom."""
    if len(lines) > (PAGE_HEIGHT - 2 * MARGIN) // LEADING:
        raise ValueError("too many lines for one page")
    text = [f"BT /F1 {FONT_SIZE} Tf {LEADING} TL {MARGIN} {PAGE_HEIGHT - MARGIN} Td"]
    text += [f"({_escaped(line)}) Tj T*" for line in lines]
    text.append("ET")
    content = "\n".join(text).encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}]"
            " /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>"
        ).encode("ascii"),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)
