"""The rule engine: each batch the pipeline is about to store in, alarm events out.

It runs on the event loop just before a batch goes to the writer, and puts its events and
the state they changed into that same batch, so both commit in the readings' transaction: a
restart finds exactly the state that matches the stored data, and so neither loses nor
repeats an alarm. It never reads the database on this path. Its state in memory is the
committed state plus the effects of the batches still in flight: each judgement keeps a
journal (``inflight.py``) that undoes it if its batch is not stored, so the device's resend
is judged afresh and its alarm raised and recorded then.

Time is the data's own. Each (rule, subject) remembers the newest reading it judged; a
repeated reading (a device's retry, or a second source in the same second: the store keeps
the first) changes nothing. A reading more than
``late_after_s`` older than the platform's clock is late (a device's backfill after an
outage): it is judged like any other, in its own time order, but what it decides is marked
not live, so it is recorded without being announced as a new alarm. Silence is judged on a
clock by :meth:`Engine.check_silence`; the platform's own downtime (from its last heartbeat,
written with every checkpoint, to its start) is one event of its own
(:meth:`Engine.platform_down`) and is never blamed on the devices.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from forewarn.logs import Throttle
from forewarn.model import KIND_BY_CN
from forewarn.rules.catalog import DeviceContext, PointContext, RuleCatalog
from forewarn.rules.composite import OperandBinding, compile_when, evaluate_composite, operand_matches
from forewarn.rules.emergency import Calendar, emergency
from forewarn.rules.events import Evidence, Grouping, RuleEvent, SubjectInfo
from forewarn.rules.inflight import Journal, Ledger, copy_state
from forewarn.rules.marked import PointKey, covers
from forewarn.rules.model import Rule, RuleSet
from forewarn.rules.point_rules import POINT_RULES, Evaluate, Verdict
from forewarn.rules.silence import ALIVE_KEY, downtime_words, silence_words, span
from forewarn.store.base import IngestBatch

__all__ = ["Engine"]

log = logging.getLogger(__name__)
_KINDS = {k.value for k in KIND_BY_CN.values()}
StateKey = tuple[str, str]


@dataclass(slots=True, frozen=True)
class _PointBinding:
    rule: Rule
    evaluate: Evaluate
    subject: str
    state: dict[str, Any]
    key: StateKey


@dataclass(slots=True, frozen=True)
class _SiteBinding:
    rule: Rule
    spec: OperandBinding
    subject: str
    state: dict[str, Any]
    key: StateKey


@dataclass(slots=True, eq=False)
class _Bound:
    """Everything judged on one point's readings, with the state dicts held directly.

    ``last_ts`` is the newest time judged for the point (saved as its ``_seen`` state), so a
    repeated or older reading is refused once for all its rules. Flag rules run only when a
    flag is not N, or while one of them is on (``flagged``).
    """

    point: PointContext | None
    seen_key: StateKey
    last_ts: int
    points: list[_PointBinding]
    flags: list[_PointBinding]
    sites: list[_SiteBinding]
    keys: tuple[StateKey, ...]
    flagged: bool = False
    only_flags: bool = False  # no point or site rules: skipped while nothing is flagged
    #: the same rules with their own state, for data older than what was judged (backfill)
    history: _Bound | None = None
    kind: str = "rtd"  # the reading kind judged here


class Engine:
    def __init__(
        self,
        rules: RuleSet,
        versions: dict[str, int],
        catalog: RuleCatalog,
        state: dict[StateKey, dict[str, Any]],
        *,
        late_after_s: float = 1800.0,
        ahead_s: float = 300.0,
        calendar: Calendar | None = None,
        utc_offset_ms: int = 8 * 3600_000,
        evidence_before_s: float = 600.0,
    ) -> None:
        self.utc_offset_ms = utc_offset_ms
        #: an alarm's evidence starts this long before its rule's own window, so its course
        #: shows what the readings were before the episode began
        self.before_ms = int(evidence_before_s * 1000)
        #: the platform's own downtime found at start (from, to), for the silence texts
        self.down: tuple[int, int] | None = None
        #: readings dated further ahead of the clock are stored but not judged: judging one would
        #: move the point's "judged up to" mark into the future, and every real reading after it
        #: would count as a backfill, recorded but never announced (a leak happening now, silent)
        self.ahead_ms = int(ahead_s * 1000)
        self._errors = Throttle(log, every_s=60.0)
        self.calendar = calendar or Calendar()
        self.rules = rules
        self.versions = versions
        self.catalog = catalog
        self.state = state
        self.late_after_ms = int(late_after_s * 1000)
        self._bindings: dict[tuple[int, str, str, str], _Bound] = {}
        self._silence_rules = [r for r in rules.rules.values() if r.kind == "nodata" and r.enabled]
        #: (rule id, device id) -> (device, rule, the rule resolved for it, its subject, its limit in ms):
        #: the silence check runs on the loop every few seconds over every device, and resolving
        #: each device's overrides there cost 30-50 ms with 10,000 devices; an entry holds while
        #: its device and rule are the same objects (a registry reload keeps unchanged devices')
        self._silence_plan: dict[tuple[str, int], tuple[DeviceContext, Rule, Rule, str, int]] = {}
        self._by_mn = {d.mn: d.id for d in catalog.devices.values()}
        #: states changed since the last checkpoint, and points judged since then
        self._dirty: set[StateKey] = set()
        self._dirty_bounds: set[_Bound] = set()
        self._compiled: dict[tuple[str, tuple[str, ...]], Callable[[dict[str, bool]], bool]] = {}
        #: data marked invalid in audit (rules/marked.py): readings it covers are stored, not judged
        self.marked: dict[PointKey, list[tuple[int, int]]] = {}
        #: the state of batches judged and not yet committed, to undo if they are not (inflight.py)
        self.inflight = Ledger(self._restore_mark, self._undone)
        self._journal: Journal | None = None  # the judgement being made now

    def reload(self, rules: RuleSet, versions: dict[str, int], catalog: RuleCatalog,
               calendar: Calendar | None = None, *, devices: Collection[int] | None = None) -> None:
        """New rules, registry or calendar: rebind lazily; state carries over by (rule, subject).

        ``devices``: only these devices changed in the registry, the rules are the same objects:
        only their points are rebound. A registry edit then costs the loop a scan of the bindings
        (milliseconds) instead of rebinding every point of 10,000 devices at their next readings.
        What a dropped binding had judged up to goes into its state first, so that its new
        binding still refuses a reading it judged already (a retry).
        """
        partial = devices is not None and rules is self.rules and versions is self.versions and calendar is None
        if partial:
            assert devices is not None
            for gone in [key for key in self._silence_plan if key[1] in devices]:
                del self._silence_plan[gone]
        else:
            self._silence_plan.clear()
        self.rules, self.versions, self.catalog = rules, versions, catalog
        if calendar is not None:
            self.calendar = calendar
        if partial:
            assert devices is not None
            for key in [key for key in self._bindings if key[0] in devices]:
                bound = self._bindings.pop(key)
                for judged in (bound, bound.history):
                    if judged is not None and judged in self._dirty_bounds:
                        self._dirty_bounds.discard(judged)
                        self._keep_judged(judged)
        else:
            for judged in self._dirty_bounds:
                self._keep_judged(judged)
            self._dirty_bounds.clear()
            self._bindings.clear()
        self._silence_rules = [r for r in rules.rules.values() if r.kind == "nodata" and r.enabled]
        self._by_mn = {d.mn: d.id for d in catalog.devices.values()}

    # ------------------------------------------------------------------ binding

    def _bind(self, device_id: int, kind: str, code: str, field: str) -> _Bound:
        point = self.catalog.point(device_id, code, field)
        points: list[_PointBinding] = []
        flags: list[_PointBinding] = []
        sites: list[_SiteBinding] = []
        if point is None:
            bound = _Bound(None, ("_seen", ""), 0, points, flags, sites, (), False, True)
            self._bindings[(device_id, kind, code, field)] = bound
            return bound
        d = point.device
        state = self.state.setdefault
        for rule in self.rules.rules.values():
            if rule.kind in POINT_RULES or rule.kind == "emergency":
                if not _targets(rule, point, kind):
                    continue
                resolved = self.rules.resolve(rule, region=d.region_code, site_type=d.site_type,
                                              site=d.site_key, point=point.key)
                if not resolved.enabled or (rule.kind == "range" and not _has_range(resolved, point)):
                    continue
                evaluate = self._emergency_for(point) if rule.kind == "emergency" else POINT_RULES[rule.kind]
                if rule.kind == "count_in_window":
                    resolved = resolved.with_params({"utc_offset_ms": self.utc_offset_ms})
                binding = _PointBinding(resolved, evaluate, point.key, state((rule.id, point.key), {}),
                                        (rule.id, point.key))
                (flags if rule.kind == "flag" else points).append(binding)
            elif rule.kind == "composite" and _device_matches(rule, d):
                resolved = self.rules.resolve(rule, region=d.region_code, site_type=d.site_type,
                                              site=d.site_key, point="")
                if not resolved.enabled:
                    continue
                operands = resolved.params["operands"]
                for name, spec in operands.items():
                    if operand_matches(spec, point.role, code, field, kind):
                        subject = f"site:{d.site_id}"
                        spec = OperandBinding.of(resolved, name, self._when(resolved.params["when"], operands))
                        sites.append(_SiteBinding(resolved, spec, subject, state((rule.id, subject), {}),
                                                  (rule.id, subject)))
        seen_key = ("_seen", f"{point.key}/{kind}")
        keys = (*((b.rule.id, b.subject) for b in (*points, *flags)), *((b.rule.id, b.subject) for b in sites))
        last = int(self.state.get(seen_key, {}).get("t", -1))
        bound = _Bound(point, seen_key, last, points, flags, sites, keys,
                       any(f.state.get("on") for f in flags), not points and not sites, kind=kind)
        self._bindings[(device_id, kind, code, field)] = bound
        return bound

    def _when(self, text: str, operands: dict[str, Any]) -> Callable[[dict[str, bool]], bool]:
        key = (text, tuple(sorted(operands)))
        found = self._compiled.get(key)
        if found is None:
            found = self._compiled[key] = compile_when(text, set(operands))
        return found

    def _emergency_for(self, point: PointContext) -> Evaluate:
        """The emergency evaluator of one production point, reading the calendar in force."""
        d = point.device

        def evaluate(rule: Rule, s: dict[str, Any], ts: int, value: float, flag: str, meta: Any) -> Verdict | None:
            found = self.calendar.measure(ts, d.region_code, d.enterprise, point.code)
            return emergency(rule, s, ts, value, flag, point.meta.name_zh, point.meta.unit, found)

        return evaluate

    # ------------------------------------------------------------------ judging

    def judge(self, batch: IngestBatch, now_ms: int) -> Journal | None:
        """Judge the batch's readings; add events, and the state behind them, to the batch.

        Returns what the judgement changed (None: nothing), to be settled once the batch is
        committed or has failed (:meth:`Journal.settle`): until then the engine's state holds
        this batch's effects on top of the committed state. A judgement that raises is undone
        at once (the batch is then stored unjudged, and nothing it half-decided stays).
        """
        journal = self._journal = self.inflight.begin()
        try:
            self._judge_batch(batch, now_ms)
        except BaseException:
            self.inflight.undo(journal)
            raise
        finally:
            self._journal = None
        return self.inflight.finish(journal)

    def on_batch(self, batch: IngestBatch, now_ms: int) -> None:
        """:meth:`judge`, with the batch taken as committed (for callers that store nothing)."""
        journal = self.judge(batch, now_ms)
        if journal is not None:
            journal.settle(None)

    def _judge_batch(self, batch: IngestBatch, now_ms: int) -> None:
        decided: set[StateKey] = set()
        ahead = now_ms + self.ahead_ms
        for readings in batch.readings:
            kind = readings.kind.value
            device_id = readings.device_id
            for code, field, ts, value, flag in readings.rows:
                if ts > ahead:
                    batch.counters["readings_not_judged_ahead"] += 1
                    continue
                if self.marked and (spans := self.marked.get((device_id, code, field))) and covers(spans, ts):
                    batch.counters["readings_not_judged_marked_invalid"] += 1
                    continue
                bound = self._bindings.get((device_id, kind, code, field)) or self._bind(device_id, kind, code, field)
                if bound.only_flags and flag == "N" and not bound.flagged:
                    continue  # only flag rules here, and nothing flagged: nothing can change
                if bound.point is None:
                    continue
                if ts > bound.last_ts:
                    self._judge(bound, ts, value, flag, now_ms - ts <= self.late_after_ms, batch, decided)
                    continue
                if ts == bound.last_ts:  # the store keeps the first value of a point and time
                    self._repeated(bound, batch)
                    continue
                # older than what this point's rules judged: a backfill, judged in its own
                # time by a separate set of states; never live
                history = bound.history or self._history(bound)
                if ts > history.last_ts:
                    self._judge(history, ts, value, flag, False, batch, decided)
                elif ts == history.last_ts:
                    self._repeated(history, batch)
        for device_id, (_, last_heard, _) in batch.activity.items():
            self._back_online(device_id, last_heard, now_ms, batch, decided)
        self._save(decided, batch)

    def _judge(self, bound: _Bound, ts: int, value: float, flag: str, live: bool, batch: IngestBatch,
               decided: set[StateKey]) -> None:
        point = bound.point
        assert point is not None
        journal = self._journal
        if journal is not None and bound not in journal.marks:
            self._touch(journal, bound)
        bound.last_ts = ts
        self._dirty_bounds.add(bound)
        events = batch.rule_events
        for b in bound.points:
            verdict = self._evaluate(b, ts, value, flag, point)
            if verdict is not None:
                decided.add(b.key)
                events.append(self._event(b.rule, b.subject, verdict, ts, live, point, b.state, bound.kind))
        if flag != "N" or bound.flagged:
            for b in bound.flags:
                if journal is not None:
                    journal.touch(b.key, b.state)
                verdict = self._evaluate(b, ts, value, flag, point)
                if verdict is not None:
                    decided.add(b.key)
                    events.append(self._event(b.rule, b.subject, verdict, ts, live, point, b.state, bound.kind))
            bound.flagged = any(f.state.get("on") for f in bound.flags)
        for s in bound.sites:
            # the site's clock is the newest time any of its points reported: meters whose
            # clocks differ a little still count, each point's own order is kept above
            site_ts = max(ts, s.state.get("t", ts))
            s.state["t"] = site_ts
            try:
                verdict = evaluate_composite(s.rule, s.state, s.spec, point.key, site_ts, value, self.label)
            except Exception:
                self._failed(s.rule)
                continue
            if verdict is not None:
                decided.add(s.key)
                events.append(self._event(s.rule, s.subject, verdict, site_ts, live, point, s.state, bound.kind))

    def _repeated(self, bound: _Bound, batch: IngestBatch) -> None:
        """A second value for a point and time judged already: the store keeps the first, so
        judging this one would fire or clear on a value nobody can see. The batch still
        depends on the one that brought the first (if that one fails, so does this one, and
        the device's resend is judged)."""
        batch.counters["readings_not_judged_repeated"] += 1
        journal = self._journal
        if journal is not None and bound not in journal.marks:
            self._touch(journal, bound)

    def _touch(self, journal: Journal, bound: _Bound) -> None:
        """Before a batch first changes a point's state: what to put back if it is not stored
        (flag rules, which run only now and then, are noted when they run)."""
        journal.marks[bound] = (bound.seen_key, (bound.last_ts, bound.flagged))
        states = journal.states
        for b in bound.points:
            if b.key not in states:
                states[b.key] = (b.state, copy_state(b.state))
        for s in bound.sites:
            if s.key not in states:
                states[s.key] = (s.state, copy_state(s.state))

    def _restore_mark(self, bound: _Bound, saved: tuple[int, bool]) -> None:
        bound.last_ts, bound.flagged = saved
        seen = self.state.get(bound.seen_key)  # written by a reload meanwhile
        if seen is not None and int(seen.get("t", -1)) > saved[0]:
            self.state[bound.seen_key] = {"t": saved[0]}

    def _undone(self, keys: set[StateKey], bounds: list[_Bound]) -> None:
        """A batch was not stored and its effects were undone: the state in the store may hold
        what a later checkpoint saved in between; save the restored state at the next one."""
        self._dirty.update(keys)
        self._dirty_bounds.update(bounds)
        log.info("the rule state of a batch that could not be stored was undone (%d states)", len(keys))

    def checkpoint_lost(self, batch: IngestBatch) -> None:
        """A checkpoint's batch was not stored: save its states again at the next one."""
        self._dirty.update(key for key in batch.rule_states if key in self.state)

    def _evaluate(self, b: _PointBinding, ts: int, value: float, flag: str, point: PointContext) -> Verdict | None:
        try:
            return b.evaluate(b.rule, b.state, ts, value, flag, point.meta)
        except Exception:  # one broken rule must not stop the others, nor ingest
            self._failed(b.rule)
            return None

    def _failed(self, rule: Rule) -> None:
        self._errors.warning(rule.id, "rule %s failed on a reading (check its parameters)", rule.id)
        log.debug("rule %s failed", rule.id, exc_info=True)

    def _history(self, bound: _Bound) -> _Bound:
        """A copy of a point's bindings with their own state, for its backfill."""
        def own(key: StateKey) -> tuple[StateKey, dict[str, Any]]:
            hkey = (key[0], key[1] + "#history")
            return hkey, self.state.setdefault(hkey, {})

        points = [_PointBinding(b.rule, b.evaluate, b.subject, own(b.key)[1], own(b.key)[0]) for b in bound.points]
        flags = [_PointBinding(b.rule, b.evaluate, b.subject, own(b.key)[1], own(b.key)[0]) for b in bound.flags]
        sites = [_SiteBinding(b.rule, b.spec, b.subject, own(b.key)[1], own(b.key)[0]) for b in bound.sites]
        seen_key = (bound.seen_key[0], bound.seen_key[1] + "#history")
        keys = tuple(b.key for b in (*points, *flags)) + tuple(b.key for b in sites)
        history = _Bound(bound.point, seen_key, int(self.state.get(seen_key, {}).get("t", -1)), points, flags,
                         sites, keys, any(f.state.get("on") for f in flags), bound.only_flags, kind=bound.kind)
        bound.history = history
        return history

    def _save(self, keys: set[StateKey], batch: IngestBatch) -> None:
        """Put the state behind these decisions in the batch that records them."""
        for key in keys:
            batch.rule_states[key] = json.dumps(self.state[key], separators=(",", ":"))
            self._dirty.discard(key)

    def checkpoint(self, batch: IngestBatch, now_ms: int | None = None) -> int:
        """Put every state changed since the last checkpoint in ``batch``; returns how many.

        State behind a decision is saved with the decision; the running bookkeeping (the last
        value, a bucket's sum, the newest time judged) is saved here, every few seconds and at
        shutdown, instead of with every reading: serialising it per reading cost more than
        the rest of the engine together. ``now_ms`` is stored as the platform's heartbeat: the
        next start knows from it how long the platform itself was down.
        """
        if now_ms is not None:
            self.state[ALIVE_KEY] = {"t": now_ms}
            self._dirty.add(ALIVE_KEY)
        for bound in self._dirty_bounds:
            self._keep_judged(bound)
        self._dirty_bounds.clear()
        count = len(self._dirty)
        self._save(set(self._dirty), batch)
        return count

    def _keep_judged(self, bound: _Bound) -> None:
        """What a point's rules judged since the last checkpoint, into their state (and saved next)."""
        self.state[bound.seen_key] = {"t": bound.last_ts}
        self._dirty.add(bound.seen_key)
        self._dirty.update(bound.keys)

    def _event(self, rule: Rule, subject: str, verdict: Verdict, ts: int, live: bool,
               point: PointContext, state: dict[str, Any], kind: str) -> RuleEvent:
        d = point.device
        p = rule.params
        window_from = ts
        if verdict.kind == "fire":  # the rule's own window, and the quiet before it
            span = max(float(p.get(k, 0)) for k in ("for_s", "window_s", "per_s", "delay_s"))
            window_from = ts - int(span * 1000) - self.before_ms - 1
        evidence: list[Evidence]
        if subject.startswith("site:"):  # every operand point of the site, not just this one
            operands = p.get("operands", {})
            evidence = [(*_split_point(key), str(operands.get(name, {}).get("kind", "rtd")), window_from, ts)
                        for name, of_operand in state.get("points", {}).items() for key in of_operand]
        else:
            evidence = [(d.mn, point.code, point.field, kind, window_from, ts)]
        info = d.info("" if subject.startswith("site:") else f"{point.code}-{point.field}")
        return RuleEvent(rule.id, self.versions.get(rule.id, 1), subject, verdict.kind, verdict.level,
                         ts, live, info, rule.title_zh, rule.title_en, verdict.zh, verdict.en, evidence,
                         incident=str(p.get("incident", "")), low=p.get("op", ">=") == "<=")

    def label(self, key: str) -> tuple[str, str, str]:
        """A point's name (zh, en) and unit as the registry knows them (``MN/code-field``)."""
        mn, code, field = _split_point(key)
        device_id = self._by_mn.get(mn)
        point = None if device_id is None else self.catalog.point(device_id, code, field)
        if point is None:
            return f"{code}-{field}", f"{code}-{field}", ""
        return point.meta.name_zh, point.meta.name_en, point.meta.unit

    # ------------------------------------------------------------------ silence

    def platform_down(self, started_ms: int) -> IngestBatch | None:
        """The platform's own downtime, from its last heartbeat until ``started_ms``: one
        platform-level event (fired and at once cleared: it is over), when a ``downtime`` rule
        finds it longer than its ``after_s``. None on a first start or a quick restart."""
        alive = self.state.get(ALIVE_KEY, {}).get("t")
        rules = [r for r in self.rules.rules.values() if r.kind == "downtime" and r.enabled]
        if alive is None or not rules or started_ms <= int(alive):
            return None
        self.down = (int(alive), started_ms)
        batch = IngestBatch()
        for rule in rules:
            if started_ms - int(alive) <= float(rule.params["after_s"]) * 1000:
                continue
            zh, en = downtime_words(int(alive), started_ms, self.utc_offset_ms)
            version = self.versions.get(rule.id, 1)
            batch.rule_events.append(RuleEvent(rule.id, version, "platform", "fire", rule.level, started_ms, True,
                                               SubjectInfo(), rule.title_zh, rule.title_en, zh, en))
            # over already: noted on the alarm, not announced a second time
            batch.rule_events.append(RuleEvent(rule.id, version, "platform", "clear", 0, started_ms, False,
                                               SubjectInfo(), rule.title_zh, rule.title_en,
                                               "平台已恢复运行", "the platform is running again"))
        return batch if batch.rule_events else None

    def check_silence(self, now_ms: int, last_seen: dict[int, int], not_before_ms: int = 0) -> IngestBatch | None:
        """:meth:`silence`, with its batch taken as committed (for callers that store nothing)."""
        found = self.silence(now_ms, last_seen, not_before_ms)
        if found is None:
            return None
        batch, journal = found
        if journal is not None:
            journal.settle(None)
        return batch

    def silence(self, now_ms: int, last_seen: dict[int, int],
                not_before_ms: int = 0) -> tuple[IngestBatch, Journal | None] | None:
        """Devices silent longer than k times their interval go offline (one event each).

        Silence is judged from the last packet, or from ``not_before_ms`` (the platform's start)
        when that is later: a platform that was down cannot blame its devices for it. The text
        says how long the device has really been silent (from its last contact), and how much
        of that the platform itself was down. Devices silent since before the start are grouped
        as one storm (the platform's downtime is their common cause); others group when many
        go silent within the rule's ``storm_window_s``.
        """
        if not self._silence_rules:
            return None
        batch = IngestBatch()
        decided: set[StateKey] = set()
        plan = self._silence_plan
        journal = self.inflight.begin()
        for device in self.catalog.devices.values():
            for rule in self._silence_rules:
                planned = plan.get((rule.id, device.id))
                if planned is None or planned[0] is not device or planned[1] is not rule:
                    resolved = self.rules.resolve(rule, region=device.region_code, site_type=device.site_type,
                                                  site=device.site_key, point="")
                    limit = (int(float(resolved.params["after_intervals"]) * device.interval_s * 1000)
                             if resolved.enabled else 0)
                    planned = plan[(rule.id, device.id)] = (device, rule, resolved, f"device:{device.mn}", limit)
                _, _, resolved, subject, limit = planned
                if not resolved.enabled:
                    continue
                key = (rule.id, subject)
                state = self.state.setdefault(key, {})
                if state.get("off"):
                    continue
                heard = last_seen.get(device.id)
                contact = heard if heard is not None else device.registered_ms
                seen = max(contact, not_before_ms)
                p = resolved.params
                if now_ms - seen > limit:
                    journal.touch(key, state)
                    state["off"] = True
                    state["since"] = seen
                    state["last"] = contact
                    decided.add(key)
                    restarted = not_before_ms if contact < not_before_ms else None
                    zh, en = silence_words(device.mn, device.interval_s, now_ms, heard, contact, restarted,
                                           self.down, self.utc_offset_ms)
                    # their common cause is the platform's downtime only when it was down (not a first start)
                    cause = restarted is not None and self.down is not None
                    group = Grouping(f"restart:{not_before_ms}" if cause else "offline",
                                     int(p.get("storm_devices", 5)), int(float(p.get("storm_window_s", 300)) * 1000))
                    batch.rule_events.append(RuleEvent(
                        rule.id, self.versions.get(rule.id, 1), key[1], "fire", resolved.level, now_ms, True,
                        device.info(), resolved.title_zh, resolved.title_en, zh, en, group=group,
                    ))
        self._save(decided, batch)
        settle = self.inflight.finish(journal)
        return (batch, settle) if batch.rule_events else None

    def _back_online(self, device_id: int, last: int, now_ms: int, batch: IngestBatch,
                     decided: set[StateKey]) -> None:
        device = self.catalog.devices.get(device_id)
        if device is None:
            return
        for rule in self._silence_rules:
            key = (rule.id, f"device:{device.mn}")
            state = self.state.get(key)
            if not state or not state.get("off"):
                continue
            if self._journal is not None:
                self._journal.touch(key, state)
            state["off"] = False
            decided.add(key)
            silent_zh, silent_en = span(last - int(state.get("last", state.get("since", last))))
            batch.rule_events.append(RuleEvent(
                rule.id, self.versions.get(rule.id, 1), key[1], "clear", 0, last, True, device.info(),
                rule.title_zh, rule.title_en, f"设备 {device.mn} 恢复上线（此前 {silent_zh} 无数据）",
                f"device {device.mn} is back online (after {silent_en} without data)",
            ))


def _split_point(key: str) -> tuple[str, str, str]:
    """``MN/code-field`` back into its parts."""
    mn, _, rest = key.partition("/")
    code, _, field = rest.partition("-")
    return mn, code, field


def _has_range(rule: Rule, point: PointContext) -> bool:
    """A range rule has work only where some limit is known."""
    limits = (rule.params.get("lower"), rule.params.get("upper"), point.meta.lower, point.meta.upper)
    return any(x is not None for x in limits)


def _in(wanted: tuple[str, ...], value: str) -> bool:
    return not wanted or value in wanted


def _device_matches(rule: Rule, device: DeviceContext) -> bool:
    t = rule.target
    return _in(t.site_type, device.site_type) and _in(t.device_kind, device.device_kind)


def _targets(rule: Rule, point: PointContext, kind: str) -> bool:
    t = rule.target
    return (
        t.kind == kind
        and _in(t.quantity, point.quantity)
        and _in(t.code, point.code)
        and _in(t.field, point.field)
        and _in(t.role, point.role)
        and _device_matches(rule, point.device)
    )
