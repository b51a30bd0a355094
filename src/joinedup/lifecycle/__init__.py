"""Lifecycle and individual rights: retention, holds, requests, subject export/rectify/erase (docs/lifecycle.md)."""
