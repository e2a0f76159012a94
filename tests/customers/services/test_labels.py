"""The return label's content: what each kind of return shows, its Code 128 and QR codes read back from the SVG,
and the PDF. Pure functions, no database."""

from __future__ import annotations

import base64
import contextlib
import re
import zlib
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import segno
from barcode.charsets.code128 import CODES, STOP

from customers.domain import Reason, Resolution, ReturnLine, ReturnRecord, ReturnStatus, Shipping
from customers.services.labels import (
    DEFAULT_RETURN_ADDRESS,
    QUIET_ZONE_MODULES,
    STORE_NOTE,
    LabelKind,
    address_lines,
    code128_modules,
    code128_svg,
    has_printable_label,
    label_pdf,
    qr_svg,
    return_label,
)

TRACKING = "1ZRC0123456789012345"


# --- readers: what a scanner would get back from the generated markup -------------------------------------------
def decode_code128(modules: str) -> str:
    """The text of a Code 128 symbol from its modules ("1" dark), start code to stop bar; the checksum must hold."""
    assert modules.endswith(STOP + "11"), "no stop pattern"
    body = modules[: -len(STOP) - 2]
    assert len(body) % 11 == 0, "not whole symbols"
    values = [CODES.index(body[i : i + 11]) for i in range(0, len(body), 11)]
    start, *symbols, check = values
    assert start in (103, 104, 105), "no start code"
    assert check == (start + sum(i * value for i, value in enumerate(symbols, 1))) % 103, "bad checksum"
    charset, text = {103: "A", 104: "B", 105: "C"}[start], ""
    for value in symbols:
        if charset == "C":
            if value < 100:
                text += f"{value:02d}"
            else:
                charset = {100: "B", 101: "A"}[value]
        elif value == 99:
            charset = "C"
        elif (charset, value) in {("A", 100), ("B", 101)}:
            charset = "B" if charset == "A" else "A"
        else:
            text += chr(value + 32) if charset == "B" or value < 64 else chr(value - 64)
    return text


def svg_barcode_modules(svg: str) -> str:
    """The module string drawn by a barcode SVG: one light/dark cell per viewBox unit, quiet zones stripped."""
    width = int(re.search(r'viewBox="0 0 (\d+) \d+"', svg).group(1))
    cells = ["0"] * width
    for x, size in re.findall(r'<rect x="(\d+)" width="(\d+)"', svg):
        cells[int(x) : int(x) + int(size)] = ["1"] * int(size)
    drawn = "".join(cells)
    assert drawn[:QUIET_ZONE_MODULES] == "0" * QUIET_ZONE_MODULES, "no quiet zone on the left"
    assert drawn[-QUIET_ZONE_MODULES:] == "0" * QUIET_ZONE_MODULES, "no quiet zone on the right"
    return drawn[QUIET_ZONE_MODULES:-QUIET_ZONE_MODULES]


def svg_qr_matrix(svg: str) -> list[list[int]]:
    """The dark modules of segno's SVG path ("M4 4.5h7m3 0h2..."), as rows of 0/1 in the viewBox."""
    size = int(re.search(r'viewBox="0 0 (\d+) \d+"', svg).group(1))
    path = re.search(r'<path stroke="#000" d="([^"]+)"', svg).group(1)
    grid = [[0] * size for _ in range(size)]
    x = y = 0.0
    for op, args in re.findall(r"([MmHh])([-\d. ]+)", path):
        numbers = [float(n) for n in args.split()]
        if op in "Mm":
            x, y = (numbers[0], numbers[1]) if op == "M" else (x + numbers[0], y + numbers[1])
        else:
            for column in range(int(x), int(x + numbers[0])):
                grid[int(y)][column] = 1
            x += numbers[0]
    return grid


def pdf_page_text(pdf: bytes) -> bytes:
    """The PDF's content streams decoded (reportlab writes pages ASCII85- and Flate-encoded): the drawn text."""
    out = b""
    for data in re.findall(rb"stream\r?\n(.*?)endstream", pdf, re.S):
        data = data.strip()
        if data.endswith(b"~>"):
            data = base64.a85decode(data, adobe=True)
        with contextlib.suppress(zlib.error):
            data = zlib.decompress(data)
        out += data
    return out


def record(**changes) -> ReturnRecord:  # type: ignore[no-untyped-def]
    base = ReturnRecord(
        return_id="RET-0A1B2C3D4E5F",
        customer_id="CUST-1001",
        order_id="ORD-79001",
        approval_id="proposal-1",
        lines=(ReturnLine("L2", "HUB-SMART-2", "Smart Home Hub", 1, 8999),),
        reason=Reason.DAMAGED,
        resolution=Resolution.STORE_CREDIT,
        shipping=Shipping.PREPAID_LABEL,
        status=ReturnStatus.APPROVED,
        refund_cents=0,
        store_credit_cents=9899,
        fee_cents=0,
        shipping_cost_cents=0,
        tracking_number=TRACKING,
        instructions=f"Print the prepaid label (tracking {TRACKING}) and hand the parcel to the carrier.",
        created_at=datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
    )
    return replace(base, **changes)


# --- what each kind of return shows -------------------------------------------------------------------------------
def test_a_parcel_return_has_the_address_the_tracking_barcode_and_a_qr_code():
    label = return_label(record(), "Acme Returns|Dock 3\\nLeeds LS1 1AA")
    assert label.kind is LabelKind.PARCEL
    assert label.address == ("Acme Returns", "Dock 3", "Leeds LS1 1AA")
    assert label.qr_payload == f"RETURN:RET-0A1B2C3D4E5F|TRACK:{TRACKING}|ORDER:ORD-79001"
    assert decode_code128(svg_barcode_modules(label.barcode_svg)) == TRACKING
    assert label.qr_svg.startswith("<svg ") and label.note == ""
    assert [(item.sku, item.quantity) for item in label.items] == [("HUB-SMART-2", 1)]
    assert has_printable_label(record())


@pytest.mark.parametrize("shipping", [Shipping.PREPAID_LABEL, Shipping.PICKUP, Shipping.DROP_OFF])
def test_every_carrier_method_is_a_parcel_label(shipping):
    assert return_label(record(shipping=shipping)).kind is LabelKind.PARCEL


def test_a_store_return_shows_only_the_qr_code_and_says_no_parcel_label_is_needed():
    label = return_label(record(shipping=Shipping.RETURN_TO_STORE, tracking_number=None))
    assert label.kind is LabelKind.STORE and label.note == STORE_NOTE
    assert label.barcode_svg == "" and label.address == ()
    assert label.qr_payload == "RETURN:RET-0A1B2C3D4E5F|TRACK:-|ORDER:ORD-79001" and label.qr_svg
    assert has_printable_label(record(shipping=Shipping.RETURN_TO_STORE, tracking_number=None))


def test_keep_with_discount_has_nothing_to_send():
    kept = record(resolution=Resolution.KEEP_WITH_DISCOUNT, shipping=None, tracking_number=None)
    label = return_label(kept)
    assert label.kind is LabelKind.KEEP and "Nothing to send back" in label.note
    assert (label.barcode_svg, label.qr_svg, label.qr_payload) == ("", "", None)
    assert not has_printable_label(kept)


def test_a_cancelled_return_has_no_codes_to_scan():
    label = return_label(record(status=ReturnStatus.CANCELLED))
    assert label.kind is LabelKind.CANCELLED and "cancelled" in label.note
    assert (label.barcode_svg, label.qr_svg, label.tracking_number) == ("", "", None)
    assert not has_printable_label(record(status=ReturnStatus.CANCELLED))


# --- the return address setting -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "raw",
    [
        "Acme|1 Dock Road|Leeds",
        "Acme\n1 Dock Road\nLeeds",
        "Acme\\n1 Dock Road\\nLeeds",
        " Acme | 1  Dock Road |\n|Leeds ",
    ],
)
def test_the_address_is_split_on_newlines_written_newlines_or_bars(raw):
    assert address_lines(raw) == ("Acme", "1 Dock Road", "Leeds")


@pytest.mark.parametrize("raw", ["", "   ", "|\\n|"])
def test_an_empty_address_falls_back_to_the_default(raw):
    assert address_lines(raw) == tuple(DEFAULT_RETURN_ADDRESS.split("\n"))


def test_an_oversized_address_is_cut_to_a_printable_size():
    lines = address_lines("|".join(["x" * 500] * 20))
    assert len(lines) == 8 and all(len(line) == 80 for line in lines)


# --- Code 128 -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", [TRACKING, "1ZRC9999999999999999", "RET-0A1B2C3D4E5F", "ab c!", "7"])
def test_the_barcode_svg_reads_back_as_its_text_and_matches_python_barcode(text):
    svg = code128_svg(text)
    modules = svg_barcode_modules(svg)
    assert modules == code128_modules(text)
    assert decode_code128(modules) == text
    assert modules[:11] in {"11010000100", "11010010000", "11010011100"}  # a start code
    assert modules.endswith("1100011101011")  # the stop pattern and its termination bar


def test_different_tracking_numbers_give_different_bars():
    assert svg_barcode_modules(code128_svg(TRACKING)) != svg_barcode_modules(code128_svg("1ZRC0123456789012346"))


def test_the_barcode_svg_has_no_style_attribute_and_is_labelled():
    svg = code128_svg(TRACKING)
    assert "style" not in svg  # the page's Content-Security-Policy allows no inline style
    assert 'role="img"' in svg and f"tracking number {TRACKING}" in svg and 'class="barcode"' in svg


@pytest.mark.parametrize("text", ["", "x" * 49, "café", "tab\there"])
def test_text_a_label_barcode_cannot_carry_is_refused(text):
    with pytest.raises(ValueError):
        code128_svg(text)


def test_markup_in_barcode_text_is_escaped():
    svg = code128_svg('<a href="x">')
    assert "<a " not in svg and "&lt;a href=" in svg


# --- QR -----------------------------------------------------------------------------------------------------------
def test_the_qr_svg_draws_segnos_matrix_of_the_payload_with_a_quiet_zone():
    payload = f"RETURN:RET-0A1B2C3D4E5F|TRACK:{TRACKING}|ORDER:ORD-79001"
    svg = qr_svg(payload, title="QR code for return RET-0A1B2C3D4E5F")
    expected = [list(row) for row in segno.make_qr(payload, error="m").matrix_iter(border=4)]
    assert svg_qr_matrix(svg) == expected
    assert "style" not in svg and 'role="img"' in svg and "<title>QR code for return RET-0A1B2C3D4E5F</title>" in svg
    assert svg_qr_matrix(qr_svg(payload.replace("9001", "9002"))) != expected


def test_qr_titles_are_escaped():
    svg = qr_svg("RETURN:x", title='"><script>')
    assert "<script>" not in svg


# --- PDF ----------------------------------------------------------------------------------------------------------
def test_the_pdf_is_a_4_by_6_inch_page_with_the_label_text():
    pdf = label_pdf(return_label(record(), "Acme Returns|Dock 3|Leeds LS1 1AA"))
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert b"/MediaBox [ 0 0 288 432 ]" in pdf
    text = pdf_page_text(pdf)
    for expected in (b"RET-0A1B2C3D4E5F", TRACKING.encode(), b"Acme Returns", b"Leeds LS1 1AA", b"ORD-79001"):
        assert expected in text, expected
    assert b"Smart Home Hub" in text


def test_the_same_label_gives_the_same_pdf():
    assert label_pdf(return_label(record())) == label_pdf(return_label(record()))


def test_a_store_pdf_has_the_qr_note_and_no_tracking():
    text = pdf_page_text(label_pdf(return_label(record(shipping=Shipping.RETURN_TO_STORE, tracking_number=None))))
    assert b"No parcel label needed" in text and b"RET-0A1B2C3D4E5F" in text and b"1ZRC" not in text


def test_characters_the_pdf_font_lacks_do_not_break_it():
    odd = record(lines=(ReturnLine("L9", "GIFT-1", "Snowman ☃ mug – 雪 " + "x" * 200, 2, 1000),))
    pdf = label_pdf(return_label(odd, "Zürich Returns|Straße 1"))
    text = pdf_page_text(pdf)
    assert pdf.startswith(b"%PDF-") and b"Snowman ? mug" in text and b"rich Returns" in text
