-- sb_transfer, version 1 (created by migration 0002): the transfer hot path in one round trip.
-- A released version never changes: a change is a new file, sb_transfer_v<N+1>.sql, and a new migration.
CREATE OR REPLACE FUNCTION sb_transfer(
    p_key text, p_hash text, p_kind text, p_d bigint, p_c bigint, p_amt bigint, p_cur text,
    p_memo text, p_ref text, p_by bigint, p_vd date, p_at timestamptz, p_meta text,
    p_pending boolean, p_enforce_limit boolean, p_default_limit bigint)
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
    RETURN QUERY SELECT 'ok'::text, NULL::bigint, v_id;
END
$fn$;
