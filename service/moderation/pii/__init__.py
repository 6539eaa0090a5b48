"""Detectors of personal data in folded text: emails, phone and card numbers, IBANs.

Each detector returns ``(start, end, kind)`` spans in folded-text offsets; the PII check maps
them back to the original text and masks them with ``[kind]``.
"""
