"""The one look and the published files: escaped tables, charts with a CJK font, XLSX writing, the report, the personal-data scan."""
