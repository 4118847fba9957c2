"""How a device's silence and the platform's own downtime are said, in Chinese and English.

A regulator reading "已 1 分钟无数据" about a device that has been silent for an hour is
misled twice: about the device (silent far longer) and about the cause (the platform itself
was down for most of that hour). So a silence is always measured from the device's last
contact, and the part of it the platform was down is named with its times. Pure: times in,
words out; the engine decides when to say them.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["ALIVE_KEY", "downtime_words", "local_time", "silence_words", "span"]

#: Where the engine's state keeps the platform's heartbeat (the time of its last checkpoint).
ALIVE_KEY = ("_platform", "alive")


def local_time(ms: int, utc_offset_ms: int) -> str:
    """``2026-11-22 08:00`` in the devices' local time."""
    return datetime.fromtimestamp((ms + utc_offset_ms) / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def span(ms: int) -> tuple[str, str]:
    """A duration as people say it: seconds, minutes, hours or days."""
    ms = max(0, ms)
    if ms < 60_000:
        return f"{ms // 1000} 秒", f"{ms // 1000} s"
    if ms < 120 * 60_000:
        return f"{ms // 60_000} 分钟", f"{ms // 60_000} min"
    if ms < 48 * 3_600_000:
        return f"{ms / 3_600_000:.1f} 小时", f"{ms / 3_600_000:.1f} h"
    return f"{ms / 86_400_000:.1f} 天", f"{ms / 86_400_000:.1f} days"


def silence_words(mn: str, interval_s: int, now_ms: int, heard_ms: int | None, contact_ms: int,
                  restarted_ms: int | None, down: tuple[int, int] | None, utc_offset_ms: int) -> tuple[str, str]:
    """Why device ``mn`` is called offline at ``now_ms``.

    ``heard_ms`` is its last packet (None: never heard, ``contact_ms`` is then when it was
    registered); ``restarted_ms`` is the platform's start when the device was silent since
    before it (its silence is then judged from the restart); ``down`` the platform's own
    downtime (from, to), when known.
    """
    at = local_time(contact_ms, utc_offset_ms)
    total_zh, total_en = span(now_ms - contact_ms)
    if heard_ms is None:
        zh = f"设备 {mn} 自注册（{at}）起从未上报，已 {total_zh}（上报间隔 {interval_s} 秒）"
        en = f"device {mn} has not reported since it was registered ({at}), {total_en} (reports every {interval_s} s)"
    else:
        zh = f"设备 {mn} 自 {at} 起无数据，已 {total_zh}（上报间隔 {interval_s} 秒）"
        en = f"device {mn} silent since {at}, for {total_en} (reports every {interval_s} s)"
    if restarted_ms is None:
        return zh, en
    after_zh, after_en = span(now_ms - restarted_ms)
    if down is not None and down[1] == restarted_ms:
        down_zh, down_en = span(down[1] - down[0])
        frm, to = local_time(down[0], utc_offset_ms), local_time(down[1], utc_offset_ms)
        return (f"{zh}；其中平台自身停机 {down_zh}（{frm} 至 {to}），平台恢复后 {after_zh} 仍无数据",
                f"{en}; the platform itself was down {down_en} ({frm} to {to}) and the device is still "
                f"silent {after_en} after it came back")
    to = local_time(restarted_ms, utc_offset_ms)
    return (f"{zh}；平台于 {to} 重启，之后 {after_zh} 仍无数据",
            f"{en}; still silent {after_en} after the platform restarted at {to}")


def downtime_words(from_ms: int, to_ms: int, utc_offset_ms: int) -> tuple[str, str]:
    """The platform's own downtime, as one platform-level event says it."""
    down_zh, down_en = span(to_ms - from_ms)
    frm, to = local_time(from_ms, utc_offset_ms), local_time(to_ms, utc_offset_ms)
    return (f"平台自 {frm} 至 {to} 停机 {down_zh}：期间未能接收设备数据（设备补传的数据照常判定）；"
            f"设备是否离线从平台恢复时起判定",
            f"the platform was down {down_en}, from {frm} to {to}: no device data was received meanwhile "
            f"(data devices upload late is judged as usual); devices' silence is judged from the restart")
