"""Sharing: agreements enforced field by field, objections, partner clients and extracts (docs/sharing.md)."""
