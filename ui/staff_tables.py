"""The staff dashboard's tables and chart, made from the feedback store's rows: times in the
staff member's own zone, blank cells where nothing was given, a repeated question counted once.

Pure functions of rows, so the shaping is tested without a browser; `ui/staff.py` draws them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from cert_assistant.feedback import normalize_question

MIN_CHART_DAYS = 7  # one day of questions still reads as a day among days, not a wall of colour
# Words, not emoji: the same in every font and to a screen reader.
RATING_SHOWN = {"up": "thumbs up", "down": "thumbs down"}


def staff_zone(name: str | None) -> tzinfo:
    """The time zone the staff's browser reports (`st.context.timezone`), else UTC.

    >>> staff_zone("Europe/Paris")
    zoneinfo.ZoneInfo(key='Europe/Paris')
    >>> staff_zone(None), staff_zone("Mars/Olympus")
    (datetime.timezone.utc, datetime.timezone.utc)
    """
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def local_time(iso: str | None, zone: tzinfo) -> str:
    """A stored UTC time as the staff read it: their zone, to the minute, no offset.

    >>> local_time("2026-11-27T09:05:41+00:00", ZoneInfo("Europe/Paris"))
    '2026-11-27 10:05'
    >>> local_time(None, UTC)
    ''
    """
    if not iso:
        return ""
    return f"{datetime.fromisoformat(iso).astimezone(zone):%Y-%m-%d %H:%M}"


def recent_table(rows: Iterable[Mapping[str, Any]], zone: tzinfo) -> pd.DataFrame:
    """The latest questions, one row per question however often it was asked (as the store
    groups refusals: case, punctuation and spaces aside), newest first.

    Each row shows the newest asking: when, its wording, its outcome, rating, comment and the
    whole answer; `times asked` counts them all. What is missing is an empty string.
    """
    groups: dict[str, dict[str, Any]] = {}
    for row in rows:  # newest first: the first of a group is its newest asking
        key = normalize_question(row["question"])
        if key in groups:
            groups[key]["times asked"] += 1
            continue
        groups[key] = {
            "last asked": local_time(row["time"], zone),
            "question": row["question"],
            "times asked": 1,
            "outcome": "refused" if row["refused"] else "answered",
            "rating": RATING_SHOWN.get(row["rating"] or "", ""),
            "comment": row["comment"] or "",
            "answer": row["answer"],
        }
    columns = ["last asked", "question", "times asked", "outcome", "rating", "comment", "answer"]
    return pd.DataFrame(list(groups.values()), columns=columns)


def refused_table(groups: Iterable[Mapping[str, Any]], zone: tzinfo) -> pd.DataFrame:
    """Refused questions grouped, most asked first: the table and its CSV export."""
    return pd.DataFrame(
        [
            {
                "times asked": g["count"],
                "latest wording": g["question"],
                "last asked": local_time(g["last_asked"], zone),
            }
            for g in groups
        ],
        columns=["times asked", "latest wording", "last asked"],
    )


def chart_days(per_day: list[Mapping[str, Any]], today: date) -> pd.DataFrame:
    """Questions per day for the chart: at least `MIN_CHART_DAYS` days up to the last one
    (or today), so a first day of questions is one bar among empty days.

    >>> days = chart_days([{"day": "2026-11-27", "questions": 4}], date(2026, 11, 27))
    >>> days["questions"].tolist(), days["day"].iloc[-1]
    ([0, 0, 0, 0, 0, 0, 4], 'Fri 27 Nov')
    """
    counts = {date.fromisoformat(d["day"]): d["questions"] for d in per_day}
    last = max([*counts, today])
    first = min([*counts, last - timedelta(days=MIN_CHART_DAYS - 1)])
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return pd.DataFrame(
        {
            "day": [f"{d:%a} {d.day} {d:%b}" for d in days],
            "questions": [counts.get(d, 0) for d in days],
        }
    )
