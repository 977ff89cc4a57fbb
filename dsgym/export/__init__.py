"""Suites written out in other harnesses' formats (``dsgym export``): Harbor task folders."""
