"""The DICOM tag browser: rows from a data set (Qt-free: nesting, file meta, long values, the
anonymisation rule), then the dialog (tree, live filter keeping parents, no-header line)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag
from pydicom.uid import ExplicitVRLittleEndian
from PySide6.QtWidgets import QLabel, QTreeWidgetItem
from pytestqt.qtbot import QtBot

from camviewer.gui.tag_rows import HIDDEN, MAX_CHARS, UNREADABLE, TagRow, is_identifying, tag_rows
from camviewer.gui.tags import ANONYMISED_NOTE, NO_HEADER, TagBrowser
from camviewer.io import load_image

PHI = ("Doe^Jane", "MRN12345", "20240102", "St Elsewhere", "Dr Who", "secret private", "1.2.3.4.5", "SITE-AE")


def built() -> Dataset:
    """A small header with identifying values, a nested sequence, long values and a private block."""
    ds = Dataset()
    ds.PatientName, ds.PatientID, ds.StudyDate, ds.StudyTime = "Doe^Jane", "MRN12345", "20240102", "101500"
    ds.InstitutionName, ds.OperatorsName, ds.StudyInstanceUID = "St Elsewhere", "Dr Who", "1.2.3.4.5"
    ds.RetrieveAETitle = "SITE-AE"
    ds.Modality, ds.SOPClassUID, ds.Rows = "DX", "1.2.840.10008.5.1.4.1.1.1.1", 512
    ds.DerivationDescription = "x" * 300
    ds.add(DataElement(0x00091010, "OB", bytes(range(40))))  # a private element without a creator: still private
    block = ds.private_block(0x0011, "ACME 1.0", create=True)
    block.add_new(0x01, "LO", "secret private")
    code = Dataset()
    code.CodeValue, code.CodeMeaning = "113040", "Lossy Compression"
    inner = Dataset()
    inner.ReferencedSOPInstanceUID, inner.PurposeOfReferenceCodeSequence = "1.2.3.4.5.6", Sequence([code])
    ds.SourceImageSequence = Sequence([inner, Dataset()])
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.FileMetaInformationVersion = b"\x00\x01"
    return ds


def by_keyword(rows: tuple[TagRow, ...]) -> dict[str, TagRow]:
    return {row.keyword: row for row in rows}


def all_values(rows: tuple[TagRow, ...]) -> str:
    return " ".join(f"{row.tag} {row.keyword} {row.value} {all_values(row.children)}" for row in rows)


def test_rows_show_tag_keyword_vr_value() -> None:
    rows = by_keyword(tag_rows(built(), anonymise=False))
    assert rows["PatientName"] == TagRow("(0010,0010)", "PatientName", "PN", "Doe^Jane")
    assert rows["SOPClassUID"].value == "1.2.840.10008.5.1.4.1.1.1.1 (Digital X-Ray Image Storage - For Presentation)"
    assert rows["Rows"].value == "512"


def test_file_meta_rows_come_first() -> None:
    rows = tag_rows(built(), anonymise=False)
    assert [row.keyword for row in rows[:2]] == ["FileMetaInformationVersion", "TransferSyntaxUID"]
    assert rows[0].value == "00 01 (2 bytes)"
    assert rows[2].tag.startswith("(0008,")


def test_sequences_nest_numbered_items() -> None:
    sequence = by_keyword(tag_rows(built(), anonymise=False))["SourceImageSequence"]
    assert (sequence.vr, sequence.value) == ("SQ", "2 item(s)")
    assert [item.keyword for item in sequence.children] == ["Item 1", "Item 2"]
    first = by_keyword(sequence.children[0].children)
    assert first["ReferencedSOPInstanceUID"].value == "1.2.3.4.5.6"
    codes = first["PurposeOfReferenceCodeSequence"].children[0].children
    assert [row.value for row in codes] == ["113040", "Lossy Compression"]
    assert sequence.children[1].children == ()


def test_long_text_and_bytes_are_shortened_with_their_length() -> None:
    rows = tag_rows(built(), anonymise=False)
    description = by_keyword(rows)["DerivationDescription"].value
    assert description == "x" * MAX_CHARS + "… (300 chars)"
    private = next(row for row in rows if row.tag == "(0009,1010)")
    assert private.value == "00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f … (40 bytes)"


def test_a_malformed_value_reads_as_unreadable() -> None:
    ds = Dataset()
    ds[0x00280010] = RawDataElement(Tag(0x00280010), "US", 3, b"\x01\x02\x03", 0, False, True)  # 3 bytes for a US
    ds.Modality = "CR"
    assert tag_rows(ds, anonymise=False) == (TagRow("(0008,0060)", "Modality", "CS", "CR"), TagRow("(0028,0010)", "Rows", "", UNREADABLE))


def test_anonymise_hides_identifying_values_only() -> None:
    rows = tag_rows(built(), anonymise=True)
    named = by_keyword(rows)
    for keyword in ("PatientName", "PatientID", "StudyDate", "StudyTime", "InstitutionName", "OperatorsName",
                    "StudyInstanceUID", "DerivationDescription", "RetrieveAETitle"):
        assert named[keyword].value == HIDDEN, keyword
    assert named["Modality"].value == "DX" and named["Rows"].value == "512"
    assert named["SOPClassUID"].value.startswith("1.2.840.10008.5.1.4.1.1.1.1 ")  # a registered UID names a class, no one
    private = [row for row in rows if row.tag.startswith(("(0009,", "(0011,"))]
    assert len(private) == 3 and all(row.value == HIDDEN for row in private)  # creator, creator-less and block element
    nested = by_keyword(named["SourceImageSequence"].children[0].children)
    assert nested["ReferencedSOPInstanceUID"].value == HIDDEN
    assert not any(text in all_values(rows) for text in PHI)


def test_an_identifying_sequence_hides_its_items() -> None:
    ds = Dataset()
    person = Dataset()
    person.PatientID = "MRN12345"
    ds.OtherPatientIDsSequence = Sequence([person])
    (row,) = tag_rows(ds, anonymise=True)
    assert (row.value, row.children) == (HIDDEN, ())


@pytest.mark.parametrize(("tag", "vr", "value", "identifying"), [
    (0x00100040, "CS", "F", True),  # patient group
    (0x00081070, "PN", "Op^Erator", True),
    (0x00080022, "DA", "20240101", True),
    (0x0008002A, "DT", "20240101101010", True),
    (0x00081010, "SH", "STATION", True),
    (0x00080050, "SH", "ACC1", True),
    (0x0020000E, "UI", "1.2.3", True),
    (0x00080016, "UI", "1.2.840.10008.5.1.4.1.1.1", False),
    (0x00080060, "CS", "CR", False),
    (0x00181164, "DS", [0.1, 0.1], False),
    (0x00291010, "OB", b"\x00", True),
])
def test_is_identifying(tag: int, vr: str, value: object, identifying: bool) -> None:
    assert is_identifying(DataElement(tag, vr, value)) is identifying


def test_sample_rows_and_anonymised_sample(sample_chest: Path) -> None:
    header = load_image(sample_chest).header
    assert header is not None
    plain = by_keyword(tag_rows(header, anonymise=False))
    assert plain["PatientName"].value == "CompressedSamples^RG1"
    assert plain["TransferSyntaxUID"].value.endswith("(JPEG 2000 Image Compression)")
    assert plain["SourceImageSequence"].children[0].keyword == "Item 1"
    hidden = all_values(tag_rows(header, anonymise=True))
    assert not any(text in hidden for text in ("CompressedSamples", "9RG1", "19400305", "Philips Medical Systems Hamburg", "THORAVISION"))


def top_items(browser: TagBrowser) -> list[QTreeWidgetItem]:
    return [browser.tree.topLevelItem(k) for k in range(browser.tree.topLevelItemCount())]


def visible_tags(browser: TagBrowser) -> list[str]:
    return [item.text(0) for item in top_items(browser) if not item.isHidden()]


def test_browser_tree_columns_and_nesting(qtbot: QtBot) -> None:
    browser = TagBrowser(built(), anonymise=False)
    qtbot.addWidget(browser)
    assert [browser.tree.headerItem().text(k) for k in range(4)] == ["Tag", "Keyword", "VR", "Value"]
    items = {item.text(1): item for item in top_items(browser)}
    assert [items["PatientName"].text(k) for k in range(4)] == ["(0010,0010)", "PatientName", "PN", "Doe^Jane"]
    sequence = items["SourceImageSequence"]
    assert sequence.childCount() == 2 and sequence.child(0).child(1).text(1) == "PurposeOfReferenceCodeSequence"


def test_search_filters_live_and_keeps_parents(qtbot: QtBot) -> None:
    browser = TagBrowser(built(), anonymise=False)
    qtbot.addWidget(browser)
    qtbot.keyClicks(browser.search, "lossy")
    assert visible_tags(browser) == ["(0008,2112)"]
    sequence = next(item for item in top_items(browser) if item.text(0) == "(0008,2112)")
    assert sequence.isExpanded() and sequence.child(1).isHidden() and not sequence.child(0).isHidden()
    browser.search.setText("0010,0020")
    assert visible_tags(browser) == ["(0010,0020)"]
    browser.search.setText("PATIENTname")
    assert visible_tags(browser) == ["(0010,0010)"]
    browser.search.setText("00100010")
    assert visible_tags(browser) == ["(0010,0010)"]
    browser.search.setText("sourceimage")  # a matching parent shows its items
    assert not sequence.isHidden() and not sequence.child(1).isHidden()
    browser.search.clear()
    assert len(visible_tags(browser)) == len(tag_rows(built(), anonymise=False))


def test_search_does_not_find_hidden_values(qtbot: QtBot) -> None:
    browser = TagBrowser(built(), anonymise=True)
    qtbot.addWidget(browser)
    assert any(label.text() == ANONYMISED_NOTE for label in browser.findChildren(QLabel))
    browser.search.setText("doe")
    assert visible_tags(browser) == []
    browser.search.setText("patientname")
    assert visible_tags(browser) == ["(0010,0010)"]


def test_no_header_shows_one_line(qtbot: QtBot) -> None:
    browser = TagBrowser(None, anonymise=True)
    qtbot.addWidget(browser)
    browser.show()
    qtbot.waitExposed(browser)
    assert [item.text(0) for item in top_items(browser)] == [NO_HEADER]
    assert not browser.search.isEnabled()


def test_browser_on_a_bundled_sample(qtbot: QtBot, sample_chest: Path) -> None:
    browser = TagBrowser(load_image(sample_chest).header, anonymise=False)
    qtbot.addWidget(browser)
    browser.show()
    qtbot.waitExposed(browser)
    assert visible_tags(browser)[0] == "(0002,0000)"
    browser.search.setText("CodeMeaning")
    assert visible_tags(browser) == ["(0008,2112)", "(0008,9215)"]
