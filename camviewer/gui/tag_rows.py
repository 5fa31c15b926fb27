"""A DICOM header as rows for the tag browser (Qt-free): tag, keyword, VR and a one-line value,
sequences nested by item, long values shortened, identifying values hidden when anonymising."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydicom.datadict import dictionary_description, keyword_for_tag
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.tag import BaseTag
from pydicom.uid import UID, UID_dictionary

HIDDEN = "(hidden: anonymised)"
UNREADABLE = "(unreadable value)"
MAX_CHARS = 200
MAX_BYTES_SHOWN = 16

# The anonymisation rule, in one place: the patient group, every private tag, names, dates, times and
# AE titles, UIDs other than registered ones (so study, series and instance UIDs), and the attributes
# whose keyword names an institution, a person's role, a station, an accession or free text.
PATIENT_GROUP = 0x0010
IDENTIFYING_VRS = frozenset({"PN", "DA", "DT", "TM", "AE"})
IDENTIFYING_WORDS = ("Institution", "Physician", "Operator", "Station", "Accession", "Description", "Comment",
                     "Address", "Telephone", "SerialNumber", "StudyID", "ProtocolName")


@dataclass(frozen=True)
class TagRow:
    """One element (or one sequence item) as shown: ``tag`` like "(0010,0010)", "" for an item."""

    tag: str
    keyword: str
    vr: str
    value: str
    children: tuple[TagRow, ...] = ()

    def matches(self, needle: str) -> bool:
        """Whether ``needle`` occurs, ignoring case, in the tag (with or without punctuation), keyword or value."""
        needle = needle.strip().lower()
        compact = self.tag.translate(str.maketrans("", "", "(),"))
        return any(needle in text.lower() for text in (self.tag, compact, self.keyword, self.value))


def is_identifying(element: DataElement) -> bool:
    """Whether the element's value may identify the patient, the people or the place (see the rule above)."""
    tag = element.tag
    if tag.is_private or tag.group == PATIENT_GROUP or element.VR in IDENTIFYING_VRS:
        return True
    if element.VR == "UI":
        return not all(str(uid) in UID_dictionary for uid in _items(element.value))
    return any(word in element.keyword for word in IDENTIFYING_WORDS)


def tag_rows(dataset: Dataset, anonymise: bool) -> tuple[TagRow, ...]:
    """The file meta group (when present), then the data set's elements, in tag order."""
    meta = getattr(dataset, "file_meta", None)
    return (_rows(meta, anonymise) if meta is not None else ()) + _rows(dataset, anonymise)


def _rows(dataset: Dataset, anonymise: bool) -> tuple[TagRow, ...]:
    return tuple(_row(dataset, tag, anonymise) for tag in sorted(dataset.keys()))


def _row(dataset: Dataset, tag: BaseTag, anonymise: bool) -> TagRow:
    try:
        element = dataset[tag]
    except Exception:  # a malformed value raises on conversion: shown as unreadable, never read further
        return TagRow(_tag_text(tag), _dictionary_name(tag), "", UNREADABLE)
    keyword = element.keyword or element.name
    if anonymise and is_identifying(element):
        return TagRow(_tag_text(tag), keyword, element.VR, HIDDEN)
    if element.VR == "SQ":
        items = tuple(TagRow("", f"Item {k}", "", "", _rows(item, anonymise)) for k, item in enumerate(element.value, start=1))
        return TagRow(_tag_text(tag), keyword, "SQ", f"{len(items)} item(s)", items)
    return TagRow(_tag_text(tag), keyword, element.VR, value_text(element.value))


def value_text(value: Any) -> str:
    """A value on one line: bytes as leading hex and their count, several values joined by a backslash,
    registered UIDs with their name, text over ``MAX_CHARS`` cut with its length shown."""
    if isinstance(value, (bytes, bytearray)):
        shown = bytes(value[:MAX_BYTES_SHOWN]).hex(" ")
        return f"{shown}{' …' if len(value) > MAX_BYTES_SHOWN else ''} ({len(value)} bytes)"
    text = "\\".join(_one_value(item) for item in _items(value))
    text = "".join(c if c.isprintable() else " " for c in text)
    return text if len(text) <= MAX_CHARS else f"{text[:MAX_CHARS]}… ({len(text)} chars)"


def _one_value(value: Any) -> str:
    if isinstance(value, UID) and str(value) in UID_dictionary:
        return f"{value} ({value.name})"
    return "" if value is None else str(value)


def _items(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, (MultiValue, list, tuple)) else [value]


def _tag_text(tag: BaseTag) -> str:
    return f"({tag.group:04X},{tag.element:04X})"


def _dictionary_name(tag: BaseTag) -> str:
    try:
        return keyword_for_tag(tag) or dictionary_description(tag)
    except KeyError:
        return "Private tag" if tag.is_private else "Unknown tag"
