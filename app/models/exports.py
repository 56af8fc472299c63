"""The kinds and formats of the access (Art. 15) and portability (Art. 20) exports."""

from __future__ import annotations

import enum


class ExportKind(enum.StrEnum):
    access = "access"
    portability = "portability"


class ExportFormat(enum.StrEnum):
    json = "json"
    zip = "zip"  # portability: CSV files
    html = "html"  # access: a page the person can read and print (GDPR Art. 12(1), 15(3))
