"""Risk: decisions, challenges, rules, alerts and cases, labels, limits, the risk register, KRIs, early
warnings, model monitoring; customer notifications. On PostgreSQL ``sb_transfer`` gains ``p_risk``: the
payment's risk decision is written by the same statement as the payment.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 11:34:35.445358
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


SB_TRANSFER_RISK = r"""
CREATE OR REPLACE FUNCTION sb_transfer(
    p_key text, p_hash text, p_kind text, p_d bigint, p_c bigint, p_amt bigint, p_cur text,
    p_memo text, p_ref text, p_by bigint, p_vd date, p_at timestamptz, p_meta text,
    p_pending boolean, p_enforce_limit boolean, p_default_limit bigint, p_risk text DEFAULT NULL)
RETURNS TABLE(status text, info bigint, tid bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
    r record;
    d_found boolean := false; c_found boolean := false;
    d_cust bigint; d_cur text; d_status text; d_od bigint; d_avail bigint;
    c_cust bigint; c_cur text; c_status text;
    v_old_id bigint; v_old_hash text; v_limit bigint; v_used bigint; v_id bigint; v_bd bigint; v_bc bigint;
BEGIN
    FOR r IN SELECT a.id, a.customer_id, a.currency, a.status, a.overdraft_limit_minor,
                    a.credits_posted - a.debits_posted - a.debits_pending AS avail
             FROM accounts a WHERE a.id IN (p_d, p_c) ORDER BY a.id FOR UPDATE LOOP
        IF r.id = p_d THEN
            d_found := true; d_cust := r.customer_id; d_cur := r.currency; d_status := r.status;
            d_od := r.overdraft_limit_minor; d_avail := r.avail;
        ELSE
            c_found := true; c_cust := r.customer_id; c_cur := r.currency; c_status := r.status;
        END IF;
    END LOOP;
    IF NOT d_found THEN RETURN QUERY SELECT 'not_found'::text, p_d, NULL::bigint; RETURN; END IF;
    IF NOT c_found THEN RETURN QUERY SELECT 'not_found'::text, p_c, NULL::bigint; RETURN; END IF;

    SELECT t.id, t.request_hash INTO v_old_id, v_old_hash FROM transfers t WHERE t.idempotency_key = p_key;
    IF FOUND THEN
        RETURN QUERY SELECT CASE WHEN v_old_hash = p_hash THEN 'replay' ELSE 'conflict' END, NULL::bigint, v_old_id;
        RETURN;
    END IF;

    IF d_cur <> p_cur THEN RETURN QUERY SELECT 'currency'::text, p_d, NULL::bigint; RETURN; END IF;
    IF c_cur <> p_cur THEN RETURN QUERY SELECT 'currency'::text, p_c, NULL::bigint; RETURN; END IF;
    IF c_status = 'closed' THEN RETURN QUERY SELECT 'credit_closed'::text, p_c, NULL::bigint; RETURN; END IF;
    IF d_status <> 'open' THEN RETURN QUERY SELECT ('debit_' || d_status)::text, p_d, NULL::bigint; RETURN; END IF;
    IF d_od IS NOT NULL AND d_avail - p_amt < -d_od THEN
        RETURN QUERY SELECT 'funds'::text, d_avail, NULL::bigint; RETURN;
    END IF;

    IF p_enforce_limit AND d_cust IS NOT NULL AND d_cust IS DISTINCT FROM c_cust THEN
        SELECT COALESCE(cu.daily_limit_minor, p_default_limit) INTO v_limit FROM customers cu WHERE cu.id = d_cust;
        v_used := NULL;
        IF p_amt <= v_limit THEN
            INSERT INTO customer_daily_usage AS u (customer_id, day, currency, amount_minor)
            VALUES (d_cust, p_vd, p_cur, p_amt)
            ON CONFLICT (customer_id, day, currency) DO UPDATE
                SET amount_minor = u.amount_minor + excluded.amount_minor
                WHERE u.amount_minor + excluded.amount_minor <= v_limit
            RETURNING u.amount_minor INTO v_used;
        END IF;
        IF v_used IS NULL THEN RETURN QUERY SELECT 'limit'::text, v_limit, NULL::bigint; RETURN; END IF;
    END IF;

    INSERT INTO transfers (idempotency_key, request_hash, kind, flags, debit_account_id, credit_account_id,
                           amount_minor, currency, memo, reference, initiated_by, value_date, created_at, meta)
    VALUES (p_key, p_hash, p_kind, CASE WHEN p_pending THEN 'pending' ELSE 'posted' END, p_d, p_c, p_amt, p_cur,
            p_memo, p_ref, p_by, p_vd, p_at, p_meta::json)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id INTO v_id;
    IF v_id IS NULL THEN
        -- the same key committed by a concurrent request on other accounts: retry sees it
        RAISE EXCEPTION 'idempotency key raced' USING ERRCODE = '40001';
    END IF;

    IF p_pending THEN
        UPDATE accounts SET debits_pending = debits_pending + p_amt WHERE id = p_d;
        UPDATE accounts SET credits_pending = credits_pending + p_amt WHERE id = p_c;
    ELSE
        UPDATE accounts SET debits_posted = debits_posted + p_amt WHERE id = p_d
            RETURNING credits_posted - debits_posted INTO v_bd;
        UPDATE accounts SET credits_posted = credits_posted + p_amt WHERE id = p_c
            RETURNING credits_posted - debits_posted INTO v_bc;
        INSERT INTO entries (transfer_id, account_id, amount_minor, currency, balance_after, value_date, created_at)
        VALUES (v_id, p_d, -p_amt, p_cur, v_bd, p_vd, p_at), (v_id, p_c, p_amt, p_cur, v_bc, p_vd, p_at);
    END IF;
    INSERT INTO ledger_unsealed (transfer_id) VALUES (v_id);
    IF p_risk IS NOT NULL THEN
        -- the payment's risk decision, in the same statement (and transaction) as the payment
        INSERT INTO risk_decisions (created_at, transfer_id, customer_id, account_id, counterparty_account_id,
                                    channel, kind, product, amount_minor, currency, idempotency_key, decision,
                                    score, model_version, rules_version, rule_hits, reasons, features,
                                    latency_us, challenge_id, outcome)
        SELECT p_at, v_id, rd.customer_id, rd.account_id, rd.counterparty_account_id, rd.channel, rd.kind, rd.product,
               rd.amount_minor, rd.currency, rd.idempotency_key, rd.decision, rd.score, rd.model_version,
               rd.rules_version, rd.rule_hits, rd.reasons, rd.features, rd.latency_us, rd.challenge_id, rd.outcome
        FROM json_populate_record(NULL::risk_decisions, p_risk::json) rd;
    END IF;
    RETURN QUERY SELECT 'ok'::text, NULL::bigint, v_id;
END
$fn$;
"""

OLD_SIGNATURE = (
    "text, text, text, bigint, bigint, bigint, text, text, text, bigint, date, timestamptz, text,"
    " boolean, boolean, bigint"
)


def upgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table(
        "notifications",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("title_en", sa.String(length=200), nullable=False),
        sa.Column("title_zh", sa.String(length=200), nullable=False),
        sa.Column("body_en", sa.Text(), nullable=False),
        sa.Column("body_zh", sa.Text(), nullable=False),
        sa.Column("ref", sa.String(length=80), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index("ix_notifications_customer_created", ["customer_id", "created_at"], unique=False)

    op.create_table(
        "risk_alert_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("alert_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("event", sa.String(length=24), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_alert_events")),
    )
    with op.batch_alter_table("risk_alert_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_risk_alert_events_alert_id"), ["alert_id"], unique=False)

    op.create_table(
        "risk_alerts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("decision_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=True),
        sa.Column("transfer_id", sa.BigInteger(), nullable=True),
        sa.Column("decision", sa.String(length=12), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("assigned_to", sa.BigInteger(), nullable=True),
        sa.Column("resolution", sa.String(length=16), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_alerts")),
        sa.UniqueConstraint("decision_id", name=op.f("uq_risk_alerts_decision_id")),
    )
    with op.batch_alter_table("risk_alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_risk_alerts_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index("ix_risk_alerts_status_created", ["status", "created_at"], unique=False)

    op.create_table(
        "risk_challenges",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("decision_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("passed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_challenges")),
    )
    with op.batch_alter_table("risk_challenges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_risk_challenges_decision_id"), ["decision_id"], unique=False)

    op.create_table(
        "risk_decisions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column("transfer_id", sa.BigInteger(), nullable=True),
        sa.Column("customer_id", sa.BigInteger(), nullable=True),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("counterparty_account_id", sa.BigInteger(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("product", sa.String(length=24), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("idempotency_key", sa.String(length=160), nullable=True),
        sa.Column("decision", sa.String(length=12), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("model_version", sa.String(length=80), nullable=False),
        sa.Column("rules_version", sa.String(length=40), nullable=True),
        sa.Column("rule_hits", sa.JSON(), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=True),
        sa.Column("features", sa.JSON(), nullable=True),
        sa.Column("latency_us", sa.Integer(), nullable=True),
        sa.Column("challenge_id", sa.BigInteger(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_decisions")),
    )
    with op.batch_alter_table("risk_decisions", schema=None) as batch_op:
        # append-only and in time order: a BRIN index on PostgreSQL costs next to nothing per payment
        batch_op.create_index("ix_risk_decisions_created", ["created_at"], unique=False, postgresql_using="brin")
        batch_op.create_index("ix_risk_decisions_customer_created", ["customer_id", "created_at"], unique=False)
        batch_op.create_index("ix_risk_decisions_transfer", ["transfer_id"], unique=False)

    op.create_table(
        "risk_kri_values",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kri_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_kri_values")),
    )
    with op.batch_alter_table("risk_kri_values", schema=None) as batch_op:
        batch_op.create_index("ix_risk_kri_values_kri_at", ["kri_id", "at"], unique=False)

    op.create_table(
        "risk_kris",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("risk_id", sa.BigInteger(), nullable=True),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name_en", sa.String(length=120), nullable=False),
        sa.Column("name_zh", sa.String(length=120), nullable=False),
        sa.Column("metric", sa.String(length=40), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("warn_threshold", sa.Float(), nullable=False),
        sa.Column("breach_threshold", sa.Float(), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_kris")),
        sa.UniqueConstraint("code", name=op.f("uq_risk_kris_code")),
    )
    with op.batch_alter_table("risk_kris", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_risk_kris_risk_id"), ["risk_id"], unique=False)

    op.create_table(
        "risk_labels",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("transfer_id", sa.BigInteger(), nullable=True),
        sa.Column("decision_id", sa.BigInteger(), nullable=True),
        sa.Column("customer_id", sa.BigInteger(), nullable=True),
        sa.Column("label", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_labels")),
        sa.UniqueConstraint("transfer_id", name=op.f("uq_risk_labels_transfer_id")),
    )
    with op.batch_alter_table("risk_labels", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_risk_labels_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "risk_limit_breaches",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("limit_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=True),
        sa.Column("decision_id", sa.BigInteger(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("used_amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("used_count", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=12), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_limit_breaches")),
    )
    with op.batch_alter_table("risk_limit_breaches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_risk_limit_breaches_limit_id"), ["limit_id"], unique=False)

    op.create_table(
        "risk_limits",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("scope", sa.String(length=12), nullable=False),
        sa.Column("scope_value", sa.String(length=40), nullable=False),
        sa.Column("daily_amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("daily_count", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=12), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_limits")),
    )
    op.create_table(
        "risk_model_monitor",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False),
        sa.Column("model_version", sa.String(length=80), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("mean_score", sa.Float(), nullable=True),
        sa.Column("psi", sa.Float(), nullable=True),
        sa.Column("alert_rate", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("bins", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_model_monitor")),
    )
    op.create_table(
        "risk_register",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("title_en", sa.String(length=200), nullable=False),
        sa.Column("title_zh", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("likelihood", sa.Integer(), nullable=False),
        sa.Column("impact", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=80), nullable=True),
        sa.Column("controls", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_register")),
        sa.UniqueConstraint("code", name=op.f("uq_risk_register_code")),
    )
    op.create_table(
        "risk_rules",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name_en", sa.String(length=120), nullable=False),
        sa.Column("name_zh", sa.String(length=120), nullable=False),
        sa.Column("expression", sa.Text(), nullable=False),
        sa.Column("action", sa.String(length=12), nullable=False),
        sa.Column("mode", sa.String(length=12), nullable=False),
        sa.Column("reason_en", sa.String(length=300), nullable=False),
        sa.Column("reason_zh", sa.String(length=300), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_rules")),
        sa.UniqueConstraint("code", "version", name=op.f("uq_risk_rules_code")),
    )
    with op.batch_alter_table("risk_rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_risk_rules_code"), ["code"], unique=False)

    op.create_table(
        "risk_warnings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kri_id", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.String(length=24), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("message_en", sa.String(length=300), nullable=False),
        sa.Column("message_zh", sa.String(length=300), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False),
        sa.Column("acknowledged_by", sa.BigInteger(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_warnings")),
    )
    with op.batch_alter_table("risk_warnings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_risk_warnings_kri_id"), ["kri_id"], unique=False)

    # ### end Alembic commands ###
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS sb_transfer({OLD_SIGNATURE})")
        op.execute(SB_TRANSFER_RISK)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS sb_transfer({OLD_SIGNATURE}, text)")
        # 0002's procedure (without the risk decision) comes back
        import importlib.util
        from pathlib import Path

        spec = importlib.util.spec_from_file_location(
            "m0002", Path(__file__).with_name("0002_pg_transfer_procedure.py")
        )
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        op.execute(mod.SB_TRANSFER)
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table("risk_warnings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_risk_warnings_kri_id"))

    op.drop_table("risk_warnings")
    with op.batch_alter_table("risk_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_risk_rules_code"))

    op.drop_table("risk_rules")
    op.drop_table("risk_register")
    op.drop_table("risk_model_monitor")
    op.drop_table("risk_limits")
    with op.batch_alter_table("risk_limit_breaches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_risk_limit_breaches_limit_id"))

    op.drop_table("risk_limit_breaches")
    with op.batch_alter_table("risk_labels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_risk_labels_customer_id"))

    op.drop_table("risk_labels")
    with op.batch_alter_table("risk_kris", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_risk_kris_risk_id"))

    op.drop_table("risk_kris")
    with op.batch_alter_table("risk_kri_values", schema=None) as batch_op:
        batch_op.drop_index("ix_risk_kri_values_kri_at")

    op.drop_table("risk_kri_values")
    with op.batch_alter_table("risk_decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_risk_decisions_transfer")
        batch_op.drop_index("ix_risk_decisions_customer_created")
        batch_op.drop_index("ix_risk_decisions_created")

    op.drop_table("risk_decisions")
    with op.batch_alter_table("risk_challenges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_risk_challenges_decision_id"))

    op.drop_table("risk_challenges")
    with op.batch_alter_table("risk_alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_risk_alerts_status_created")
        batch_op.drop_index(batch_op.f("ix_risk_alerts_customer_id"))

    op.drop_table("risk_alerts")
    with op.batch_alter_table("risk_alert_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_risk_alert_events_alert_id"))

    op.drop_table("risk_alert_events")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_customer_created")

    op.drop_table("notifications")
    # ### end Alembic commands ###
