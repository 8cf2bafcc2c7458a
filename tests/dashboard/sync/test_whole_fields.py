"""Every Celigo field is stored whole and reads back byte-exact: through the sync, the export and the detail
page's download (docs/architecture.md "Text Celigo sends")."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.management import call_command
from django.urls import reverse

from dashboard.lib.text import ESCAPE
from dashboard.models import ErrorRecord, SyncOutcome
from dashboard.sync.run import sync_account
from tests.dashboard.sync.test_sync import connect, open_step

pytest_plugins = ["celigo_api.simulator.pytest_plugin"]
pytestmark = pytest.mark.django_db(transaction=True)

# An HTML error page a target system returned: 200 KB, far past any display bound.
HTML_PAGE = "<!DOCTYPE html><html><body>" + "<p>upstream timeout — 注文 ❌</p>\n" * 5_500 + "</body></html>"
# Every class of character a third-party system may put in a message.
HOSTILE = "".join(
    [
        "NUL:\x00, twice:\x00\x00, at the end follows.",
        "C0:" + "".join(chr(c) for c in range(1, 32)),
        "DEL:\x7f C1:" + "".join(chr(c) for c in range(0x80, 0xA0)),
        "CRLF:\r\n lone CR:\r tab:\t",
        "BOM:\ufeff zero width:\u200b\u200c\u200d\u2060",
        "bidi:\u202e\u2066\u2069\u200f",
        "separators:\u2028\u2029 nonchars:\ufffe\uffff\U0001fffe replacement:\ufffd",
        f"private use:\ue000\U000f0000 our escape:{ESCAPE} {ESCAPE}0 {ESCAPE}{ESCAPE}",
        "astral:😀👩‍👩‍👧 combining:e\u0301\u0327 CJK:注文 RTL:שלום مرحبا",
        "markup:<script>alert(1)</script><img src=x onerror=alert(2)>&amp;&lt;{{ x }}{% y %}",
        "quotes:'\"`\\ \\u0000 %s %(x)s ${x}",
        "=formula,+1,-1,@SUM(A1)",
        "\x00",
    ]
)
LONG_TRACE = "trace-" + "x" * 2_000


@pytest.fixture
def synced_hostile(celigo_simulator):
    sim = celigo_simulator
    account = connect(sim)
    sync_account(account)
    flow_id, step_id = open_step(sim)
    big = sim.state.add_error(flow_id, step_id, overrides={"message": HTML_PAGE})
    odd = sim.state.add_error(flow_id, step_id, overrides={"message": HOSTILE, "traceKey": LONG_TRACE})
    run = sync_account(account, full=False)
    assert run.outcome == SyncOutcome.SUCCEEDED, run.failure_message
    assert run.errors_malformed == 0
    return {
        "big": ErrorRecord.objects.get(account=account, error_id=big["errorId"]),
        "odd": ErrorRecord.objects.get(account=account, error_id=odd["errorId"]),
    }


def test_it_stores_a_200_kb_message_and_a_hostile_one_whole(synced_hostile):
    big, odd = synced_hostile["big"], synced_hostile["odd"]
    assert len(HTML_PAGE.encode()) > 200_000
    assert big.message.encode() == HTML_PAGE.encode()
    assert odd.message.encode() == HOSTILE.encode()
    assert odd.raw["message"] == HOSTILE
    assert odd.celigo_value("trace_key") == LONG_TRACE
    assert ErrorRecord.objects.filter(message=HOSTILE).get() == odd  # lookups escape as storage does


def test_the_export_carries_them_byte_exact(synced_hostile):
    out = io.StringIO()
    call_command("export_errors", "--format", "jsonl", stdout=out)
    lines = out.getvalue().split("\n")[:-1]
    assert lines == out.getvalue().splitlines()  # no Unicode line break inside a line
    rows = {row["error_id"]: row for row in map(json.loads, lines)}
    assert rows[synced_hostile["big"].error_id]["message"].encode() == HTML_PAGE.encode()
    odd = rows[synced_hostile["odd"].error_id]
    assert odd["message"].encode() == HOSTILE.encode()
    assert odd["trace_key"] == LONG_TRACE

    out = io.StringIO()
    call_command("export_errors", "--format", "csv", stdout=out)
    csv.field_size_limit(1_000_000)
    by_id = {row["error_id"]: row for row in csv.DictReader(io.StringIO(out.getvalue(), newline=""))}
    assert by_id[synced_hostile["big"].error_id]["message"] == HTML_PAGE
    assert by_id[synced_hostile["odd"].error_id]["message"] == HOSTILE  # starts with no formula character


def test_the_detail_page_bounds_what_it_shows_and_downloads_it_whole(synced_hostile, login_as):
    client = login_as("viewer")
    big, odd = synced_hostile["big"], synced_hostile["odd"]

    page = client.get(reverse("error-detail", args=[big.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert 'data-testid="message-details"' in body  # collapsed, with "show all"
    assert "Shortened for display" in body
    assert "&lt;/body&gt;&lt;/html&gt;" not in body  # the message's end is not on the page
    assert len(body) < 300_000  # a bounded part of the message and of the raw JSON, whatever their size
    assert 'href="?download=message"' in body

    for error, original in ((big, HTML_PAGE), (odd, HOSTILE)):
        download = client.get(reverse("error-detail", args=[error.pk]), {"download": "message"})
        assert download.status_code == 200
        assert download["Content-Type"] == "text/plain; charset=utf-8"
        assert download["Content-Disposition"].startswith("attachment;")
        assert download["Cache-Control"] == "private, no-store"
        assert download.content == original.encode("utf-8")

    celigo_json = client.get(reverse("error-detail", args=[odd.pk]), {"download": "json"})
    assert celigo_json["Cache-Control"] == "private, no-store"
    document = json.loads(celigo_json.content)
    assert document["message"] == HOSTILE
    assert document["traceKey"] == LONG_TRACE


def test_the_download_answers_404_to_someone_who_may_not_see_the_error(synced_hostile, login_as, warehouse):
    error = synced_hostile["odd"]
    error.team = warehouse
    error.save(update_fields=["team"])
    response = login_as("outsider").get(reverse("error-detail", args=[error.pk]), {"download": "message"})
    assert response.status_code == 404
