"""xlcli: cross-lingual dense retrieval with non-English, misspelled queries."""

__version__ = "0.1.0"
