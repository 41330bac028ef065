"""Every invoice step has its event: a step without one would fail at run time."""

from __future__ import annotations

from ledgerline.events.catalog import INVOICE_EVENTS
from ledgerline.invoices.service import TRANSITIONS


def test_every_invoice_step_has_an_event() -> None:
    assert set(TRANSITIONS) | {"create", "pay"} <= set(INVOICE_EVENTS)
