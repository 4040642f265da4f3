"""``report``: systems × languages × {clean, misspelled} tables with significance, and exports."""
