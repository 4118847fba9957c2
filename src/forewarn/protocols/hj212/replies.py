"""The platform's side of the HJ 212 dialogue: answers and commands it sends. Pure."""

from __future__ import annotations

from datetime import datetime

from forewarn.protocols.hj212.codec import Frame, encode

__all__ = ["data_answer", "notification_answer", "qn_now", "request_answer", "set_time"]

#: QnRtn for a request refused because of its password (HJ 212-2017 §6.6.4)
QNRTN_WRONG_PASSWORD = 3
#: QnRtn for a request refused because its CRC is wrong (HJ 212-2017, the table of QnRtn codes)
QNRTN_CRC_ERROR = 9


def _answer(frame: Frame, cn: str, params: dict[str, str]) -> bytes:
    # Keep the device's version bits, clear A and D: an answer wants no answer.
    flag = None if frame.flag is None else frame.flag & ~0b11
    return encode(
        Frame(st="91", cn=cn, mn=frame.mn, qn=frame.qn, pw=frame.pw, flag=flag, params=params)
    )


def data_answer(frame: Frame) -> bytes:
    """9014 with the upload's QN: the data is stored."""
    return _answer(frame, "9014", {})


def notification_answer(frame: Frame) -> bytes:
    """9013 with the notification's QN (e.g. to a 1013 time-calibration request)."""
    return _answer(frame, "9013", {})


def request_answer(frame: Frame, qn_rtn: int) -> bytes:
    """9011 with QnRtn (1 ready, 3 wrong password ...)."""
    return _answer(frame, "9011", {"QnRtn": str(qn_rtn)})


def qn_now(now: datetime) -> str:
    """A QN for a platform-initiated request: local time to the millisecond."""
    return now.strftime("%Y%m%d%H%M%S") + f"{now.microsecond // 1000:03d}"


def set_time(frame: Frame, now: datetime) -> bytes:
    """1012: set the device's clock to the platform's (``now`` in the devices' time zone)."""
    flag = None if frame.flag is None else (frame.flag & ~0b11) | 1
    return encode(
        Frame(
            st=frame.st, cn="1012", mn=frame.mn, qn=qn_now(now), pw=frame.pw, flag=flag,
            params={"SystemTime": now.strftime("%Y%m%d%H%M%S")},
        )
    )
