"""Pushing a release to a CKAN portal (data.gov.uk runs on CKAN) through its Action API, with ``ckanapi``.

The package is created, or updated when it exists, and each file of the release
becomes a resource. If any call fails, what this push did is undone (a new
package deleted, an updated one put back as it was) and :class:`CkanError` says
which call failed; the release is then not recorded.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ckanapi
import requests

from joinedup.publish.errors import CkanError
from joinedup.publish.metadata import OGL

#: The environment variable holding the portal's API token (never an option: it would sit in shell history).
TOKEN_VARIABLE = "JOINEDUP_CKAN_TOKEN"
_FORMATS = {".csv": "CSV", ".json": "JSON", ".jsonld": "JSON-LD"}


def package_name(meta: Mapping[str, Any]) -> str:
    """A CKAN package name (2–100 of a-z, 0-9, - and _) for the dataset and its publisher."""
    raw = f"{meta['publisher']}-{meta['name']}".lower()
    return re.sub(r"[^a-z0-9_-]+", "-", raw).strip("-")[:100]


def package_dict(meta: Mapping[str, Any], name: str, owner_org: str | None) -> dict[str, Any]:
    """Our Exchange Model fields as CKAN's: core fields where CKAN has them, the rest as extras."""
    extras = {
        "identifier": meta["identifier"],
        "security_classification": meta["security_classification"],
        "access_rights": meta["access_rights"],
        "update_frequency": meta["update_frequency"],
        "publisher": meta["publisher"],
        "creator": meta["creator"],
        "issued": meta["issued"],
        "modified": meta["modified"],
        "release": meta.get("release_version", ""),
    }
    package: dict[str, Any] = {
        "name": name,
        "title": meta["title"],
        "notes": meta["description"],
        "license_id": "uk-ogl" if (meta.get("licence") or OGL) == OGL else "other-open",
        "version": meta.get("release_version") or meta["version"],
        "tags": [{"name": k} for k in meta.get("keywords") or []],
        "extras": [{"key": k, "value": str(v)} for k, v in extras.items() if v],
    }
    if meta.get("contact_name"):
        package["maintainer"] = meta["contact_name"]
    if meta.get("contact_email"):
        package["maintainer_email"] = meta["contact_email"]
    if owner_org:
        package["owner_org"] = owner_org
    return package


class CkanPusher:
    """A push to one portal; called by :func:`joinedup.publish.publish` with the release's metadata and folder."""

    def __init__(self, url: str, *, token: str | None = None, owner_org: str | None = None) -> None:
        if not re.match(r"^https?://", url):
            raise CkanError(f"--ckan: {url!r} is not an http(s) address of a CKAN portal")
        self.url = url.rstrip("/")
        self.token = token if token is not None else os.environ.get(TOKEN_VARIABLE)
        if not self.token:
            raise CkanError(f"--ckan: set the portal's API token in the environment variable {TOKEN_VARIABLE}")
        self.owner_org = owner_org

    def __call__(self, meta: dict[str, Any], folder: Path) -> str:
        portal = ckanapi.RemoteCKAN(self.url, apikey=self.token, user_agent="joinedup")
        name = package_name(meta)
        wanted = package_dict(meta, name, self.owner_org)
        previous = self._call(portal, "package_show", {"id": name}, missing_ok=True)
        if previous is None:
            package = self._call(portal, "package_create", wanted)
        else:
            keep = {k: v for k, v in previous.items() if k not in ("resources",)}
            package = self._call(portal, "package_update", {**keep, **wanted, "id": previous["id"]})
        try:
            for path in sorted(folder.iterdir()):
                with open(path, "rb") as handle:
                    self._call(
                        portal,
                        "resource_create",
                        {"package_id": package["id"], "name": path.name, "format": _FORMATS.get(path.suffix, "")},
                        files={"upload": (path.name, handle)},
                    )
        except CkanError:
            self._undo(portal, package["id"], previous)
            raise
        return name

    def _undo(self, portal: ckanapi.RemoteCKAN, package_id: str, previous: dict[str, Any] | None) -> None:
        try:
            if previous is None:
                self._call(portal, "package_delete", {"id": package_id})
            else:
                self._call(portal, "package_update", previous)
        except CkanError:
            pass  # the push's own failure is what the user needs to see; the portal is reported in it

    def _call(
        self,
        portal: ckanapi.RemoteCKAN,
        action: str,
        data: dict[str, Any],
        *,
        files: dict[str, Any] | None = None,
        missing_ok: bool = False,
    ) -> Any:
        try:
            return portal.call_action(action, data, files=files, requests_kwargs={"timeout": 30})
        except ckanapi.NotFound:
            if missing_ok:
                return None
            raise CkanError(f"CKAN {self.url}: {action} failed (not found); nothing was published") from None
        except ckanapi.NotAuthorized:
            raise CkanError(f"CKAN {self.url}: {action} refused (not authorised: check the token)") from None
        except ckanapi.ValidationError as exc:
            fields = ", ".join(sorted(exc.error_dict)) if isinstance(getattr(exc, "error_dict", None), dict) else ""
            raise CkanError(
                f"CKAN {self.url}: {action} refused (invalid {fields or 'data'}); nothing was published"
            ) from None
        except (ckanapi.CKANAPIError, requests.RequestException, ValueError) as exc:
            kind = type(exc).__name__
            raise CkanError(f"CKAN {self.url}: {action} failed ({kind}); nothing was published") from None
