"""The paper comparison report behind ``pycim report``: paper numbers with citations
(:mod:`.paper`), simulated numbers from the report sweep and an energy model fitted to it
(:mod:`.data`), assumption sensitivity (:mod:`.sensitivity`), plots and a self-contained HTML
page (:mod:`.build`)."""

from .build import build_numbers, resimulate, write_report

__all__ = ["build_numbers", "resimulate", "write_report"]
