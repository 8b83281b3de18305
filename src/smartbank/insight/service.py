"""Customer 360 profiles and tags: refresh (batch and incremental) and the service functions that
the API, the web pages and the CLI call.

Refresh
* :func:`refresh_all` extracts every customer's activity in bulk (:mod:`.extract`, the read model of other
  domains' tables), computes the features (:mod:`.features`), calls ``insight.analytics.enrich``,
  evaluates the active tag definitions (:mod:`.tags`) and replaces ``customer_profiles`` and
  ``customer_tags`` in one transaction.
* :func:`refresh_incremental` keeps watermarks in ``insight_state`` (newest ledger entry, imported
  transaction and customer already folded in) and recomputes only the customers with something
  newer - over their full history, with the same ``as_of`` - so its result equals a full recompute.
  When the day changed (time windows moved for everybody) or a tag definition changed, it runs
  the full refresh instead. Changes that leave no entry (a new city, a new risk level, an audit
  record) are folded in by the next full refresh, at the latest the next day.
* ``analytics.enrich`` is called on the same customers. With trained models it scores a subset
  exactly as inside the whole population; without a trained RFM model its quintiles are fitted on
  the customers passed in, so the incremental refresh then runs as a full one (train the models
  with ``smartbank insight train`` to make it incremental again).
* Ids are handed out before their transactions commit, so an entry may become visible after a
  newer one was already folded in. The incremental refresh therefore looks back
  :data:`OVERLAP_ENTRIES` entries behind its watermark whenever there is something new.
* Only one refresh runs at a time (a PostgreSQL advisory lock; a process lock on SQLite). A refresh
  that finds another one running returns ``{"mode": "busy"}``.

Authorisation (object level, here in the service): marketers and admins manage tags and read every
profile; service agents and risk officers read profiles; a customer reads only their own insights,
with customer-audience features and tags only; another customer's id is "not found".

This module is the insight domain's front door (:data:`__all__`): it also re-exports the data import
(:mod:`.importing`), the extract, the feature catalogue, the tag engine, the models' training and report and
the segment chart that the command line and the pages use.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import polars as pl
from sqlalchemy import Engine, delete, insert, select, text
from sqlalchemy.orm import Session

from smartbank import clock, db
from smartbank.config import get_settings
from smartbank.customers import service as customers
from smartbank.errors import Forbidden, NotFound, ValidationFailed
from smartbank.insight import analytics, extract, segment_runs
from smartbank.insight import features as F
from smartbank.insight import tags as T
from smartbank.insight.analytics import train_all as train_models
from smartbank.insight.extract import (
    ACTIVITY_SCHEMA,
    CUSTOMER_SCHEMA,
    HOLDINGS_SCHEMA,
    load_activity,
    load_customers,
    load_holdings,
)
from smartbank.insight.features import CATALOGUE, CATEGORY_NAMES, NON_SPENDING_KINDS, SYSTEM_KINDS
from smartbank.insight.features import compute as compute_features
from smartbank.insight.importing import run_import
from smartbank.insight.models import CustomerProfile, CustomerTag, InsightState, Segment, TagDefinition
from smartbank.insight.report import build_report as build_model_report
from smartbank.insight.segment_runs import profile_chart_svg
from smartbank.insight.tags import DEFAULT_TAGS
from smartbank.insight.tags import assign as assign_tags
from smartbank.security import service as security
from smartbank.security.service import Principal

__all__ = [
    # profiles and their refresh
    "PROFILE_READERS", "CustomerProfile", "feature_catalogue", "load_profiles", "my_insights", "profile_360",
    "refresh_all", "refresh_incremental", "stored_profile",
    # tags and segments
    "DEFAULT_TAGS", "TAG_MANAGERS", "assign_tags", "create_tag", "edit_tag", "list_segments", "list_tags",
    "preview_tag", "profile_chart_svg", "retire_tag", "tag_history",
    # the same tag language over the stored profiles, for another domain's audience (no actor: the caller checks)
    "check_expression", "expression_matches", "tagged_customers",
    # the extract (read model), the feature catalogue and the models
    "ACTIVITY_SCHEMA", "CATALOGUE", "CATEGORY_NAMES", "CUSTOMER_SCHEMA", "HOLDINGS_SCHEMA", "NON_SPENDING_KINDS",
    "SYSTEM_KINDS", "build_model_report", "compute_features", "load_activity", "load_customers", "load_holdings",
    "train_models",
    # importing other systems' exports
    "run_import",
]

log = logging.getLogger("smartbank.insight")

TAG_MANAGERS = security.roles_for("insight.tags.manage")
PROFILE_READERS = security.roles_for("insight.profiles.read")
OVERLAP_ENTRIES = 1000
_ADVISORY_KEY = 0x5B1A7E  # "insight refresh"
_local_lock = threading.Lock()
_WRITE_CHUNK = 5000


# ------------------------------------------------------------------------------------------------
# refresh


def _today() -> date:
    return clock.today()


@contextmanager
def _refresh_lock(engine: Engine) -> Iterator[bool]:
    if engine.dialect.name == "postgresql":
        with engine.connect() as c:
            got = bool(c.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _ADVISORY_KEY}).scalar())
            try:
                yield got
            finally:
                if got:
                    c.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _ADVISORY_KEY})
                c.commit()
        return
    got = _local_lock.acquire(blocking=False)
    try:
        yield got
    finally:
        if got:
            _local_lock.release()


def analytics_module() -> Any | None:
    """The analytics models' module (tests replace it with None: the analytics columns then stay null)."""
    return analytics


_ANALYTICS_OUT = ("segment", "rfm", "lifecycle", "value_minor", "clv_minor", "churn_score", "churn_reasons",
                  "propensity", "model_versions")


def _enrich(activity: pl.DataFrame, customers: pl.DataFrame, as_of: date, holdings: pl.DataFrame | None = None
            ) -> pl.DataFrame | None:
    mod = analytics_module()
    if mod is None or not hasattr(mod, "enrich"):
        return None
    try:
        out = mod.enrich(activity, customers, as_of, model_dir=get_settings().model_dir, holdings=holdings)
    except Exception:  # noqa: BLE001 - profiles still refresh; the analytics columns stay null
        log.exception("insight analytics failed; profiles refreshed without them")
        return None
    return out if isinstance(out, pl.DataFrame) and "customer_id" in out.columns else None


def analytics_is_per_customer() -> bool:
    """Whether ``analytics.enrich`` scores a subset exactly as inside the whole population: every part
    of it reads only the customer's own rows plus saved model state or fixed rules (RFM before any
    training uses fixed score edges), so an incremental refresh never needs to fall back to a full one."""
    return True


def compute_profiles(engine: Engine, as_of: date, customer_ids: Sequence[int] | None = None
                     ) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """Features (with the analytics columns) for the given customers (all when None)."""
    activity = extract.load_activity(engine, customer_ids=customer_ids)
    customers = extract.load_customers(engine, customer_ids=customer_ids)
    holdings = extract.load_holdings(engine, customer_ids=customer_ids)
    analytics = _enrich(activity, customers, as_of, holdings)
    df = F.compute(activity, customers, as_of, holdings=holdings,
                   service=extract.load_service_actions(engine, customer_ids=customer_ids), analytics=analytics)
    return df, analytics


def _profile_rows(df: pl.DataFrame, analytics: pl.DataFrame | None, as_of: date, now: datetime
                  ) -> list[dict[str, Any]]:
    extra: dict[int, dict[str, Any]] = {}
    if analytics is not None:
        cols = [c for c in _ANALYTICS_OUT if c in analytics.columns]
        for r in analytics.select("customer_id", *cols).iter_rows(named=True):
            extra[int(r["customer_id"])] = r
    rows = []
    for r in df.iter_rows(named=True):
        cid = int(r.pop("customer_id"))
        a = extra.get(cid, {})
        rows.append({
            "customer_id": cid, "as_of": as_of, "computed_at": now, "features": r,
            "segment": a.get("segment"), "rfm": a.get("rfm"), "lifecycle": a.get("lifecycle"),
            "value_minor": _int(a.get("value_minor")), "clv_minor": _int(a.get("clv_minor")),
            "churn_score": _float(a.get("churn_score")), "churn_reasons": _plain(a.get("churn_reasons")),
            "propensity": _plain(a.get("propensity")), "model_versions": _plain(a.get("model_versions")),
        })
    return rows


def _int(v: Any) -> int | None:
    return None if v is None else int(v)


def _float(v: Any) -> float | None:
    return None if v is None else float(v)


def _plain(v: Any) -> Any:
    """JSON-ready: Polars structs arrive as dicts, lists as lists; strings holding JSON are parsed."""
    if isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return v
    if isinstance(v, pl.Series):
        return v.to_list()
    return v


def _write(session: Session, df: pl.DataFrame, analytics: pl.DataFrame | None, tagged: pl.DataFrame,
           as_of: date, customer_ids: Sequence[int] | None) -> None:
    now = clock.now()
    if customer_ids is None:
        session.execute(delete(CustomerTag))
        session.execute(delete(CustomerProfile))
    else:
        ids = sorted(int(i) for i in customer_ids)
        for i in range(0, len(ids), _WRITE_CHUNK):
            chunk = ids[i:i + _WRITE_CHUNK]
            session.execute(delete(CustomerTag).where(CustomerTag.customer_id.in_(chunk)))
            session.execute(delete(CustomerProfile).where(CustomerProfile.customer_id.in_(chunk)))
    rows = _profile_rows(df, analytics, as_of, now)
    for i in range(0, len(rows), _WRITE_CHUNK):
        session.execute(insert(CustomerProfile), rows[i:i + _WRITE_CHUNK])
    tag_rows = [{"customer_id": int(c), "code": code, "version": int(v), "assigned_at": now}
                for c, code, v in tagged.iter_rows()]
    for i in range(0, len(tag_rows), _WRITE_CHUNK):
        session.execute(insert(CustomerTag), tag_rows[i:i + _WRITE_CHUNK])


def _state(session: Session) -> dict[str, int]:
    return {s.key: int(s.value) for s in session.scalars(select(InsightState))}


def _set_state(session: Session, values: dict[str, int]) -> None:
    now = clock.now()
    for k, v in values.items():
        row = session.get(InsightState, k)
        if row is None:
            session.add(InsightState(key=k, value=int(v), updated_at=now))
        else:
            row.value = int(v)
            row.updated_at = now
    session.flush()


def _definitions(engine: Engine) -> tuple[list[TagDefinition], int]:
    def work(s: Session) -> tuple[list[TagDefinition], int]:
        T.seed_defaults(s)
        return T.current(s), T.fingerprint(s)

    return db.run_in_transaction(work, engine=engine)


def refresh_all(engine: Engine | None = None, *, as_of: date | None = None) -> dict[str, Any]:
    """Recompute every profile and tag. Returns a summary (customers, tags, seconds, mode)."""
    engine = engine or db.get_engine()
    with _refresh_lock(engine) as got:
        if not got:
            return {"mode": "busy"}
        return _refresh_all(engine, as_of or _today())


def _refresh_all(engine: Engine, as_of: date) -> dict[str, Any]:
    t0 = time.perf_counter()
    marks = extract.max_ids(engine)  # read first: anything newer is picked up by the next refresh
    defs, fp = _definitions(engine)
    df, analytics = compute_profiles(engine, as_of)
    tagged = T.assign(df, defs)

    def work(s: Session) -> None:
        _write(s, df, analytics, tagged, as_of, None)
        if analytics is not None:  # the segmentation the profiles were just labelled with, for the explorer
            segment_runs.publish_newest(s, get_settings().model_dir)
        _set_state(s, {"entry_id": marks["entry_id"], "external_id": marks["external_id"],
                       "customer_id": marks["customer_id"], "as_of": as_of.toordinal(), "tags": fp})

    db.run_in_transaction(work, engine=engine)
    return {"mode": "full", "as_of": as_of.isoformat(), "customers": df.height, "tags": tagged.height,
            "analytics": analytics is not None, "seconds": round(time.perf_counter() - t0, 3)}


def refresh_incremental(engine: Engine | None = None, *, as_of: date | None = None) -> dict[str, Any]:
    """Fold new activity into the profiles of the customers it belongs to (see the module notes)."""
    engine = engine or db.get_engine()
    as_of = as_of or _today()
    with _refresh_lock(engine) as got:
        if not got:
            return {"mode": "busy"}
        t0 = time.perf_counter()
        state = db.run_in_transaction(_state, engine=engine)
        defs, fp = _definitions(engine)
        if not state or state.get("as_of") != as_of.toordinal() or state.get("tags") != fp:
            return _refresh_all(engine, as_of)
        marks = extract.max_ids(engine)
        if all(marks[k] <= state.get(k, 0) for k in marks):
            return {"mode": "none", "customers": 0, "seconds": round(time.perf_counter() - t0, 3)}
        if not analytics_is_per_customer():
            return _refresh_all(engine, as_of)
        entry_after = state.get("entry_id", 0)
        if marks["entry_id"] > entry_after:
            entry_after = max(entry_after - OVERLAP_ENTRIES, 0)
        ids = extract.customers_with_new_activity(engine, entry_after=entry_after,
                                                  external_after=state.get("external_id", 0),
                                                  customer_after=state.get("customer_id", 0))
        df, analytics = compute_profiles(engine, as_of, ids)
        tagged = T.assign(df, defs)

        def work(s: Session) -> None:
            _write(s, df, analytics, tagged, as_of, ids)
            _set_state(s, {"entry_id": marks["entry_id"], "external_id": marks["external_id"],
                           "customer_id": marks["customer_id"]})

        db.run_in_transaction(work, engine=engine)
        return {"mode": "incremental", "as_of": as_of.isoformat(), "customers": df.height, "tags": tagged.height,
                "analytics": analytics is not None, "seconds": round(time.perf_counter() - t0, 3)}


# ------------------------------------------------------------------------------------------------
# reading profiles


def _can_read_all(actor: Principal) -> bool:
    return actor.role in PROFILE_READERS or actor.role == "admin"


def _visible_features(actor: Principal, feats: dict[str, Any]) -> dict[str, Any]:
    if actor.role == "customer":
        return {k: v for k, v in feats.items() if k in F.CUSTOMER_FEATURES}
    return dict(feats)


def _tag_rows(session: Session, customer_id: int, *, customer_view: bool) -> list[dict[str, Any]]:
    defs = {(d.code, d.version): d for d in T.all_versions(session)}
    out = []
    for t in session.scalars(select(CustomerTag).where(CustomerTag.customer_id == customer_id)
                             .order_by(CustomerTag.code)):
        d = defs.get((t.code, t.version))
        if d is None or (customer_view and d.audience != "customer"):
            continue
        out.append({"code": t.code, "version": t.version, "name_en": d.name_en, "name_zh": d.name_zh,
                    "audience": d.audience, "description": d.description,
                    "assigned_at": t.assigned_at.isoformat() if t.assigned_at else None})
    return out


def profile_360(session: Session, actor: Principal, customer_id: int, *, timeline: int = 20) -> dict[str, Any]:
    """Profile, tags, segment, value, churn and recent activity of one customer.

    Customers may ask only for themselves (anything else is "not found") and see customer-audience
    features and tags only; staff need a profile-reading role."""
    if actor.role == "customer":
        if actor.customer_id != customer_id:
            raise NotFound("no such customer profile")
    elif not _can_read_all(actor):
        raise Forbidden("your role may not read customer profiles",
                        details={"role": actor.role, "needs": list(PROFILE_READERS)})
    try:
        cust = customers.get_customer(session, customer_id)
    except NotFound:
        raise NotFound("no such customer profile") from None
    security.audit_reads(session, actor, action="insight_profile.read", customer_ids=[customer_id],
                         shown={"timeline": timeline})
    p = session.get(CustomerProfile, customer_id)
    customer_view = actor.role == "customer"
    out: dict[str, Any] = {
        "customer_id": customer_id, "number": cust.number,
        # the masking policy: a staff member's analytics view shows the name masked (张*), never identity fields
        "name": security.present(actor.role, "self" if customer_view else "marketing", "name", cust.name),
        "profile": None, "as_of": None, "computed_at": None,
        "tags": _tag_rows(session, customer_id, customer_view=customer_view),
        "timeline": extract.recent_activity(session, customer_id, timeline),
    }
    if p is not None:
        feats = _visible_features(actor, p.features or {})
        out.update(profile=feats, as_of=p.as_of.isoformat(), computed_at=p.computed_at.isoformat(),
                   spending_by_category=F.spending_by_category(feats))
        if not customer_view:
            out.update(segment=p.segment, rfm=p.rfm, lifecycle=p.lifecycle, value_minor=p.value_minor,
                       clv_minor=p.clv_minor, churn_score=p.churn_score, churn_reasons=p.churn_reasons,
                       propensity=p.propensity, model_versions=p.model_versions)
    else:
        out["spending_by_category"] = {}
    return out


def stored_profile(session: Session, customer_id: int) -> dict[str, Any] | None:
    """One customer's stored profile for another domain's staff view (a loan officer's case, an agent's
    hand-off): ``features``, ``segment``, ``churn_score``, ``as_of``; None when there is none yet. No check
    and no audit record here: the calling service has decided the reader may see this customer and
    recorded the read."""
    p = session.get(CustomerProfile, customer_id)
    if p is None:
        return None
    return {"features": dict(p.features or {}), "segment": p.segment, "churn_score": p.churn_score,
            "as_of": p.as_of}


def my_insights(session: Session, actor: Principal) -> dict[str, Any]:
    if actor.role != "customer" or actor.customer_id is None:
        raise NotFound("insights are for customers")
    return profile_360(session, actor, actor.customer_id)


def feature_catalogue(actor: Principal) -> list[dict[str, Any]]:
    return [{"name": f.name, "type": f.type, "en": f.en, "zh": f.zh, "audience": f.audience, "group": f.group}
            for f in F.CATALOGUE if actor.role != "customer" or f.audience == "customer"]


# ------------------------------------------------------------------------------------------------
# tag definitions


def _require_manager(actor: Principal) -> None:
    actor.require_role(*TAG_MANAGERS)


def _require_reader(actor: Principal) -> None:
    if not _can_read_all(actor):
        raise Forbidden("your role may not do this", details={"role": actor.role, "needs": list(PROFILE_READERS)})


def list_tags(session: Session, actor: Principal, *, include_retired: bool = False) -> list[dict[str, Any]]:
    """Tag definitions in force (staff readers), with how many customers carry each."""
    _require_reader(actor)
    T.seed_defaults(session)
    counts: dict[str, int] = dict(session.execute(text("SELECT code, COUNT(*) FROM customer_tags GROUP BY code")).all())
    out = []
    for d in T.current(session, include_retired=include_retired):
        row = T.as_dict(d)
        row["customers"] = int(counts.get(d.code, 0)) if d.status == "active" else 0
        out.append(row)
    return out


def tag_history(session: Session, actor: Principal, code: str) -> list[dict[str, Any]]:
    _require_reader(actor)
    T.seed_defaults(session)
    versions = T.all_versions(session, code)
    if not versions:
        raise NotFound("no such tag", details={"code": code})
    return [T.as_dict(d) for d in versions]


def create_tag(session: Session, actor: Principal, *, code: str, name_en: str, name_zh: str, expression: str,
               audience: str = "staff", description: str = "") -> dict[str, Any]:
    _require_manager(actor)
    d = T.create(session, code=code, name_en=name_en, name_zh=name_zh, expression=expression, audience=audience,
                 description=description, created_by=actor.user_id)
    out = T.as_dict(d)
    security.audit(session, actor, action="insight.tag.create", object_type="tag", object_id=code, after=out)
    return out


def edit_tag(session: Session, actor: Principal, code: str, **changes: Any) -> dict[str, Any]:
    _require_manager(actor)
    if not changes:
        raise ValidationFailed("nothing to change: give a new name, rule, audience or description")
    T.seed_defaults(session)
    out = T.as_dict(T.edit(session, code, created_by=actor.user_id, **changes))
    security.audit(session, actor, action="insight.tag.edit", object_type="tag", object_id=code, after=out)
    return out


def retire_tag(session: Session, actor: Principal, code: str) -> dict[str, Any]:
    _require_manager(actor)
    T.seed_defaults(session)
    d = T.retire(session, code)
    session.execute(delete(CustomerTag).where(CustomerTag.code == code))
    out = T.as_dict(d)
    security.audit(session, actor, action="insight.tag.retire", object_type="tag", object_id=code, after=out)
    return out


def load_profiles(session: Session) -> pl.DataFrame:
    """The stored profiles as a frame of features (what a draft rule is tested against)."""
    rows = session.execute(select(CustomerProfile.customer_id, CustomerProfile.features,
                                  CustomerProfile.segment, CustomerProfile.value_minor, CustomerProfile.clv_minor,
                                  CustomerProfile.churn_score, CustomerProfile.rfm, CustomerProfile.lifecycle)).all()
    schema: dict[str, Any] = {"customer_id": pl.Int64, **{n: F._dtype(n) for n in F.NAMES}}
    records = []
    for cid, feats, segment, value, clv, churn, rfm, lifecycle in rows:
        r = {n: (feats or {}).get(n) for n in F.NAMES}
        r.update(customer_id=cid, segment=segment, value_minor=value, clv_minor=clv, churn_score=churn, rfm=rfm,
                 lifecycle=lifecycle)
        records.append(r)
    return pl.DataFrame(records, schema=schema, orient="row") if records else pl.DataFrame(schema=schema)


def preview_tag(session: Session, actor: Principal, *, expression: str, audience: str = "staff",
             sample: int = 10) -> dict[str, Any]:
    """Evaluate a draft rule against the current profiles without saving anything."""
    _require_manager(actor)
    compiled = T.compile_expression(expression, audience=audience)
    profiles = load_profiles(session)
    ids = T.matches(profiles, compiled)
    sample_ids = ids.head(max(0, min(sample, 50))).to_list()
    names = customers.names_of(session, [int(i) for i in sample_ids])
    return {"expression": expression, "audience": audience, "profiles": profiles.height, "matches": len(ids),
            "features": sorted(compiled.features),
            "sample": [{"customer_id": int(i),
                        "name": security.present(actor.role, "marketing", "name", names.get(i, ""))}
                       for i in sample_ids]}


def check_expression(expression: str) -> list[str]:
    """Check a staff tag rule (the tag language) without evaluating it; the features it reads."""
    return sorted(T.compile_expression(expression, audience="staff").features)


def expression_matches(profiles: pl.DataFrame, expression: str) -> pl.Series:
    """The customer ids of ``profiles`` (:func:`load_profiles`) matching ``expression``, a staff tag rule (the
    tag language; its refusals are the tag rules' own)."""
    return T.matches(profiles, T.compile_expression(expression, audience="staff"))


def tagged_customers(session: Session, codes: Sequence[str], *, among: Sequence[int] | None = None) -> set[int]:
    """The customers carrying any of the tags ``codes`` now (only those ``among`` these, when given)."""
    if not codes:
        return set()
    stmt = select(CustomerTag.customer_id).where(CustomerTag.code.in_(list(codes)))
    if among is not None:
        stmt = stmt.where(CustomerTag.customer_id.in_(list(among)))
    return {int(c) for c in session.scalars(stmt)}


def list_segments(session: Session, actor: Principal) -> list[dict[str, Any]]:
    """Segments of the newest segmentation run, with how many profiles carry each label now."""
    _require_reader(actor)
    newest = session.execute(select(Segment.run_id).order_by(Segment.created_at.desc(), Segment.id.desc())
                             .limit(1)).scalar()
    counts: dict[str, int] = dict(session.execute(text(
        "SELECT segment, COUNT(*) FROM customer_profiles WHERE segment IS NOT NULL GROUP BY segment")).all())
    out = []
    if newest is not None:
        for sg in session.scalars(select(Segment).where(Segment.run_id == newest).order_by(Segment.label)):
            out.append({"run_id": sg.run_id, "label": sg.label, "name_en": sg.name_en, "name_zh": sg.name_zh,
                        "description": sg.description, "centroid": sg.centroid, "size": int(sg.size),
                        "profiles": int(counts.pop(sg.label, 0))})
    for label, n in sorted(counts.items()):  # labels in profiles without a segments row
        out.append({"run_id": None, "label": label, "name_en": label, "name_zh": label, "description": {},
                    "centroid": {}, "size": int(n), "profiles": int(n)})
    return out
