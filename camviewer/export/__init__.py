"""DICOM exports of camviewer's rendered results: new instances, never edits of the source."""
