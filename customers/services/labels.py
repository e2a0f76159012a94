"""The customer's printable return label: what it says, its barcode and QR code as SVG, and the same as a PDF.

Pure functions over a committed ``ReturnRecord``: the caller has already checked whose return it is. The Code 128
bars come from python-barcode's own encoder and the QR matrix from segno, and both the page (SVG) and the PDF
(reportlab) are drawn from those same modules, so what is printed from either scans the same. The SVGs carry no
``style`` attributes: the pages' Content-Security-Policy allows no inline style.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from xml.sax.saxutils import escape, quoteattr

import barcode
import segno
from django.utils.translation import gettext_noop
from reportlab.lib.units import inch
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from customers.domain import Resolution, ReturnRecord, ReturnStatus, Shipping

# Return ids are derived from the approval (customers.services.commit.return_id_for): "RET-" and upper-case hex.
RETURN_ID_PATTERN = re.compile(r"^RET-[0-9A-F]{6,32}$")
DEFAULT_RETURN_ADDRESS = "Returns Centre\nUnit 4, Riverside Park\nManchester M17 1AB\nUnited Kingdom"
MAX_ADDRESS_LINES = 8
MAX_ADDRESS_LINE_CHARS = 80
QUIET_ZONE_MODULES = 10  # Code 128 wants at least ten blank modules either side
BARCODE_HEIGHT_MODULES = 60
QR_BORDER_MODULES = 4
# Marked for translation here, translated where the page shows them (the PDF stays in English for carriers).
STORE_NOTE = gettext_noop("No parcel label needed: bring the item to any of our stores and show this code.")
KEEP_NOTE = gettext_noop("Nothing to send back: keep the item. There is no label to print for this return.")
CANCELLED_NOTE = gettext_noop("This return was cancelled: there is nothing to send back.")


class LabelKind(StrEnum):
    """What the customer does with the item, which decides what the label shows."""

    PARCEL = "parcel"  # a carrier takes it: address, Code 128 of the tracking number, QR
    STORE = "store"  # brought to a store: QR only
    KEEP = "keep"  # keep with discount: nothing to send
    CANCELLED = "cancelled"  # nothing to send any more


@dataclass(frozen=True)
class LabelItem:
    sku: str
    name: str
    quantity: int


@dataclass(frozen=True)
class ReturnLabel:
    return_id: str
    order_id: str
    kind: LabelKind
    shipping: str  # the method as the customer chose it ("Prepaid Shipping Label"), "" when nothing travels
    tracking_number: str | None
    address: tuple[str, ...]  # where the parcel goes; empty unless it travels by carrier
    items: tuple[LabelItem, ...]
    instructions: str
    created_on: date

    @property
    def note(self) -> str:
        """The one sentence that says what to do when there is no parcel to send."""
        return {LabelKind.STORE: STORE_NOTE, LabelKind.KEEP: KEEP_NOTE, LabelKind.CANCELLED: CANCELLED_NOTE}.get(
            self.kind, ""
        )

    @property
    def qr_payload(self) -> str | None:
        """What a store or carrier point scans: the return, its tracking number ("-" for none) and the order."""
        if self.kind not in (LabelKind.PARCEL, LabelKind.STORE):
            return None
        return f"RETURN:{self.return_id}|TRACK:{self.tracking_number or '-'}|ORDER:{self.order_id}"

    @property
    def barcode_svg(self) -> str:
        return code128_svg(self.tracking_number) if self.kind is LabelKind.PARCEL and self.tracking_number else ""

    @property
    def qr_svg(self) -> str:
        payload = self.qr_payload
        return qr_svg(payload, title=f"QR code for return {self.return_id}") if payload else ""


def address_lines(raw: str) -> tuple[str, ...]:
    """The return address from one setting: lines split on newlines, a written "\\n" or "|" (an environment
    variable rarely holds a newline), blank lines dropped; the default when nothing is left."""
    parts = re.split(r"\r?\n|\\n|\|", raw or "")
    lines = tuple(" ".join(part.split())[:MAX_ADDRESS_LINE_CHARS] for part in parts if part.strip())
    return lines[:MAX_ADDRESS_LINES] if lines else address_lines(DEFAULT_RETURN_ADDRESS)


def label_kind(record: ReturnRecord) -> LabelKind:
    if record.status is ReturnStatus.CANCELLED:
        return LabelKind.CANCELLED
    if record.resolution is Resolution.KEEP_WITH_DISCOUNT or record.shipping is None:
        return LabelKind.KEEP
    if record.tracking_number:
        return LabelKind.PARCEL
    return LabelKind.STORE if record.shipping is Shipping.RETURN_TO_STORE else LabelKind.KEEP


def has_printable_label(record: ReturnRecord) -> bool:
    """Whether the customer's cards offer "Print your return label": only when there is something to show."""
    return label_kind(record) in (LabelKind.PARCEL, LabelKind.STORE)


def return_label(record: ReturnRecord, return_address: str = DEFAULT_RETURN_ADDRESS) -> ReturnLabel:
    """The label of one committed return; ``return_address`` is the setting as written (see ``address_lines``)."""
    kind = label_kind(record)
    return ReturnLabel(
        return_id=record.return_id,
        order_id=record.order_id,
        kind=kind,
        shipping=str(record.shipping) if kind in (LabelKind.PARCEL, LabelKind.STORE) and record.shipping else "",
        tracking_number=record.tracking_number if kind is LabelKind.PARCEL else None,
        address=address_lines(return_address) if kind is LabelKind.PARCEL else (),
        items=tuple(LabelItem(line.sku, line.name, line.quantity) for line in record.lines),
        instructions=record.instructions,
        created_on=record.created_at.date(),
    )


# --- Code 128 --------------------------------------------------------------------------------------------------
def code128_modules(text: str) -> str:
    """The bar pattern of ``text`` ("1" a dark module, "0" a light one), start code to stop bar, as python-barcode
    encodes it (it picks code sets B and C to keep the symbol short)."""
    if not text or len(text) > 48 or not all(32 <= ord(char) < 127 for char in text):
        raise ValueError("Code 128 labels here take 1 to 48 printable ASCII characters.")
    return str(barcode.get("code128", text).build()[0])


def _bars(modules: str) -> Iterable[tuple[int, int]]:
    """(first module, width) of each dark bar."""
    for match in re.finditer(r"1+", modules):
        yield match.start(), match.end() - match.start()


def code128_svg(text: str) -> str:
    """An inline SVG of the Code 128 symbol of ``text``, quiet zones included, one ``rect`` per bar in module units
    (it scales to whatever width the page gives it; ``preserveAspectRatio="none"`` lets height be set apart)."""
    modules = code128_modules(text)
    width, height = len(modules) + 2 * QUIET_ZONE_MODULES, BARCODE_HEIGHT_MODULES
    bars = "".join(
        f'<rect x="{start + QUIET_ZONE_MODULES}" width="{size}" height="{height}"/>' for start, size in _bars(modules)
    )
    label = quoteattr(f"Code 128 barcode of tracking number {text}")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="barcode" viewBox="0 0 {width} {height}" '
        f'preserveAspectRatio="none" shape-rendering="crispEdges" role="img" aria-label={label}>'
        f"<title>{escape(text)}</title>"
        f'<rect class="quiet" width="{width}" height="{height}" fill="#fff"/><g fill="#000">{bars}</g></svg>'
    )


# --- QR ---------------------------------------------------------------------------------------------------------
def _qr(payload: str) -> segno.QRCode:
    if not payload or len(payload) > 512:
        raise ValueError("A label's QR payload is 1 to 512 characters.")
    return segno.make_qr(payload, error="m")


def qr_svg(payload: str, title: str = "QR code") -> str:
    """An inline SVG of the QR code of ``payload`` (segno's writer: one path, no style attribute, no size, so the
    page sizes it), on white with the four-module quiet zone scanners need."""
    out = io.BytesIO()
    _qr(payload).save(
        out,
        kind="svg",
        xmldecl=False,
        nl=False,
        omitsize=True,
        svgclass="qr",
        lineclass=None,
        light="#fff",
        title=title,
    )
    svg = out.getvalue().decode()
    return svg.replace("<svg ", '<svg role="img" aria-label=' + quoteattr(title) + " ", 1)


# --- PDF ----------------------------------------------------------------------------------------------------------
PAGE = (4 * inch, 6 * inch)  # the common thermal shipping label; prints centred on A4 or Letter too
MARGIN = 16.0
_FONT, _BOLD = "Helvetica", "Helvetica-Bold"


def _fit(text: str, font: str, size: float, width: float) -> str:
    """``text`` in the PDF's standard fonts (WinAnsi: a character they lack becomes "?"), shortened with an
    ellipsis to fit ``width`` points."""
    text = text.encode("cp1252", "replace").decode("cp1252")
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


def _draw_code128(canvas: Canvas, text: str, x: float, y: float, width: float, height: float) -> None:
    modules = code128_modules(text)
    module = width / (len(modules) + 2 * QUIET_ZONE_MODULES)
    canvas.setFillColorRGB(0, 0, 0)
    for start, size in _bars(modules):
        canvas.rect(x + (start + QUIET_ZONE_MODULES) * module, y, size * module, height, stroke=0, fill=1)


def _draw_qr(canvas: Canvas, payload: str, x: float, y: float, size: float) -> None:
    rows = list(_qr(payload).matrix_iter(border=QR_BORDER_MODULES))
    module = size / len(rows)
    canvas.setFillColorRGB(0, 0, 0)
    for row_index, row in enumerate(rows):
        top = y + size - (row_index + 1) * module
        for column, dark in enumerate(row):
            if dark:
                canvas.rect(x + column * module, top, module, module, stroke=0, fill=1)


def label_pdf(label: ReturnLabel) -> bytes:
    """The label as a one-page 4 x 6 inch PDF (reportlab): the same content and codes as the page."""
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=PAGE, invariant=True)  # invariant: the same label gives the same bytes
    canvas.setTitle(f"Return label {label.return_id}")
    canvas.setAuthor("Returns")
    canvas.setSubject(f"Return {label.return_id} for order {label.order_id}")
    width, height = PAGE
    inner = width - 2 * MARGIN
    y = height - MARGIN

    # Header: what this is, and the return id in bold.
    y -= 20
    canvas.setFont(_BOLD, 20)
    canvas.drawString(MARGIN, y, "RETURN")
    canvas.setFont(_BOLD, 14)
    canvas.drawRightString(width - MARGIN, y + 2, label.return_id)
    y -= 14
    canvas.setFont(_FONT, 9)
    canvas.drawString(MARGIN, y, _fit(f"Order {label.order_id}   {label.shipping}", _FONT, 9, inner))
    y -= 8
    canvas.setLineWidth(1.5)
    canvas.line(MARGIN, y, width - MARGIN, y)

    if label.kind is LabelKind.PARCEL and label.tracking_number:
        y -= 16
        canvas.setFont(_BOLD, 8)
        canvas.drawString(MARGIN, y, "SHIP TO")
        canvas.setFont(_BOLD, 12)
        for line in label.address:
            y -= 15
            canvas.drawString(MARGIN + 8, y, _fit(line, _BOLD, 12, inner - 8))
        y -= 12
        canvas.line(MARGIN, y, width - MARGIN, y)
        y -= 76
        _draw_code128(canvas, label.tracking_number, MARGIN, y, inner, 64)
        y -= 14
        canvas.setFont(_BOLD, 11)
        canvas.drawCentredString(width / 2, y, label.tracking_number)
        y -= 8
        canvas.line(MARGIN, y, width - MARGIN, y)
    elif label.note:
        y -= 18
        canvas.setFont(_BOLD, 11)
        for line in _wrap(label.note, _BOLD, 11, inner):
            canvas.drawString(MARGIN, y, line)
            y -= 14

    payload = label.qr_payload
    qr_size = 96.0 if label.kind is LabelKind.PARCEL else 136.0
    details_x = MARGIN
    if payload:
        y -= qr_size + 8
        _draw_qr(canvas, payload, MARGIN - 4, y, qr_size)
        details_x = MARGIN + qr_size + 4
        top = y + qr_size - 14
        canvas.setFont(_FONT, 8)
        where = "Scan at the carrier point or store" if label.kind is LabelKind.PARCEL else "Show this at any store"
        canvas.drawString(details_x, top, where)
        top -= 14
        canvas.setFont(_BOLD, 10)
        canvas.drawString(details_x, top, label.return_id)
        canvas.setFont(_FONT, 9)
        canvas.drawString(details_x, top - 12, f"Order {label.order_id}")
        canvas.drawString(details_x, top - 24, label.created_on.isoformat())

    # What is in the parcel.
    y -= 18
    canvas.setFont(_BOLD, 8)
    canvas.drawString(MARGIN, y, "ITEMS")
    canvas.setFont(_FONT, 9)
    shown = label.items[:5]
    for item in shown:
        y -= 12
        canvas.drawString(MARGIN, y, _fit(f"{item.quantity} × {item.name}  ({item.sku})", _FONT, 9, inner))
    if len(label.items) > len(shown):
        y -= 12
        canvas.drawString(MARGIN, y, f"and {len(label.items) - len(shown)} more")
    canvas.setDash(4, 3)
    canvas.setLineWidth(0.8)
    canvas.rect(MARGIN / 2, MARGIN / 2, width - MARGIN, height - MARGIN, stroke=1, fill=0)  # the cut line
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and stringWidth(f"{lines[-1]} {word}", font, size) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines
