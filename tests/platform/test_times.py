import datetime

import pytest
from django import forms

from apollo.filters import UtcDateTimeField, parse_timestamp

UTC = datetime.UTC


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-06-26T17:45:13Z", datetime.datetime(2026, 6, 26, 17, 45, 13, tzinfo=UTC)),
        ("2026-06-26T19:45:13+02:00", datetime.datetime(2026, 6, 26, 17, 45, 13, tzinfo=UTC)),
        ("2026-06-26T19:45:13 02:00", datetime.datetime(2026, 6, 26, 17, 45, 13, tzinfo=UTC)),
        ("2026-06-26T12:45:13-05:00", datetime.datetime(2026, 6, 26, 17, 45, 13, tzinfo=UTC)),
        ("2026-06-26T17:45:13", datetime.datetime(2026, 6, 26, 17, 45, 13, tzinfo=UTC)),
        (
            "2026-06-26T19:45:13.123456 0200",
            datetime.datetime(2026, 6, 26, 17, 45, 13, 123456, tzinfo=UTC),
        ),
        ("2026-06-26", datetime.datetime(2026, 6, 26, tzinfo=UTC)),
    ],
)
def test_it_reads_query_timestamps_as_utc(raw, expected):
    assert parse_timestamp(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "yesterday",
        "2026-13-01T00:00:00Z",
        "2026-06-26T25:00",
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00+14:00",
    ],
)
def test_it_refuses_an_unparseable_timestamp(raw):
    with pytest.raises(forms.ValidationError) as error:
        UtcDateTimeField().clean(raw)

    assert error.value.code == "invalid"


def test_it_answers_timestamps_in_utc_with_z(client_for, owner):
    body = client_for(owner).get("/v1/organization").json()

    assert body["created_at"].endswith("Z")
    assert datetime.datetime.fromisoformat(body["created_at"]).tzinfo == UTC
