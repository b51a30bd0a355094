"""Pushing to CKAN, against a local server answering the Action API calls a push makes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from joinedup.estate import Estate
from joinedup.publish import CkanError, publish, releases
from joinedup.publish.ckan import CkanPusher
from tests.conftest import CliResult
from tests.publish.ckan_server import ckan_portal


def test_a_release_creates_then_updates_the_package(residents: Estate, tmp_path: Path) -> None:
    with ckan_portal() as (url, portal):
        pusher = CkanPusher(url, token=portal.token)
        first = publish(residents, "tester", "residents", out=tmp_path / "a", aggregate="count by year", push=pusher)
        [package] = portal.packages.values()
        assert first.ckan_package == package["name"]
        assert package["license_id"] == "uk-ogl"
        assert {e["key"] for e in package["extras"]} >= {"identifier", "security_classification"}
        assert sorted(r["name"] for r in package["resources"]) == [
            "data.csv", "data.csv-metadata.json", "datapackage.json", "dcat.jsonld"
        ]  # fmt: skip
        publish(residents, "tester", "residents", out=tmp_path / "b", aggregate="count by year", push=pusher)
        assert "package_update" in portal.calls and len(portal.packages) == 1
    assert [r["ckan_package"] for r in releases(residents)] == [package["name"]] * 2


@pytest.mark.parametrize("failing", ["resource_create", "package_create"])
def test_a_failed_push_leaves_nothing_published(residents: Estate, tmp_path: Path, failing: str) -> None:
    with ckan_portal() as (url, portal):
        portal.fail_on = failing
        with pytest.raises(CkanError, match=f"{failing} refused"):
            publish(residents, "tester", "residents", out=tmp_path / "a", aggregate="count by year",
                    push=CkanPusher(url, token=portal.token))  # fmt: skip
        assert portal.packages == {}, "a package created before the failure is deleted again"
    assert not (tmp_path / "a").exists() and releases(residents) == []


def test_a_wrong_token_is_one_line(residents: Estate, tmp_path: Path) -> None:
    with ckan_portal() as (url, _portal), pytest.raises(CkanError, match="not authorised"):
        publish(residents, "tester", "residents", out=tmp_path / "a", aggregate="count by year",
                push=CkanPusher(url, token="wrong"))  # fmt: skip


def test_the_token_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JOINEDUP_CKAN_TOKEN", raising=False)
    with pytest.raises(CkanError, match="JOINEDUP_CKAN_TOKEN"):
        CkanPusher("http://127.0.0.1:1")
    with pytest.raises(CkanError, match="not an http"):
        CkanPusher("ftp://x", token="t")


def test_the_cli_without_a_token_refuses_before_writing(
    cli: Callable[..., CliResult], residents: Estate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JOINEDUP_CKAN_TOKEN", raising=False)
    done = cli("publish", "-d", "residents", "--aggregate", "count by year", "--out", tmp_path / "o",
               "--ckan", "http://127.0.0.1:1", "--json")  # fmt: skip
    assert done.exit_code == 1 and json.loads(done.stderr)["error"] == "ckan"
    assert not (tmp_path / "o").exists() and releases(residents) == []
