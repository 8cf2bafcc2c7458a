-- One million stored errors for bench/ui.py, generated inside PostgreSQL (no row crosses the wire).
-- Parameters (psql-style placeholders replaced by bench/ui.py): :rows, :open_ratio.
-- The shape follows a real backlog: most stored errors are resolved or purged history, a minority is open;
-- a few messages (fingerprints) dominate; some trace keys repeat; ~90 days of history.

INSERT INTO dashboard_celigoaccount (name, region, base_url, token_encrypted, token_last4, celigo_user_id, sandbox,
    rate_burst, rate_per_second, sync_interval_seconds, full_sync_interval_hours, metadata_interval_minutes,
    mirror_assignments, mirror_tags, tag_variant, enabled, status, status_message, standalone_summary_supported,
    sync_lease_owner, created_at)
SELECT 'Bench account ' || a, 'na', '', 'unused', '0000', '', false, 100, 30, 120, 24, 60, false, false,
       'error_ids', true, CASE WHEN a = 5 THEN 'failing' ELSE 'ok' END,
       CASE WHEN a = 5 THEN 'HTTP 503 from Celigo' ELSE '' END, true, '', now()
FROM generate_series(1, 5) AS a;

INSERT INTO dashboard_integration (account_id, celigo_id, name, sandbox, deleted_in_celigo, raw)
SELECT a.id, 'int' || a.id || '-' || i, 'Integration ' || a.id || '.' || i, false, false, '{}'
FROM dashboard_celigoaccount a, generate_series(1, 8) AS i;

INSERT INTO dashboard_flow (account_id, integration_id, celigo_id, name, disabled, deleted_in_celigo,
    summary_num_error, raw)
SELECT i.account_id, i.id, 'flow' || i.id || '-' || f, 'Flow ' || f || ' of ' || i.name, false, false, 0, '{}'
FROM dashboard_integration i, generate_series(1, 10) AS f;

INSERT INTO dashboard_step (account_id, flow_id, celigo_id, kind, name, adaptor_type, position, in_flow,
    summary_num_error)
SELECT f.account_id, f.id, 'step' || f.id || '-' || s, CASE WHEN s = 1 THEN 'export' ELSE 'import' END,
       'Step ' || s, 'HTTPImport', s, true, 0
FROM dashboard_flow f, generate_series(1, 3) AS s;

INSERT INTO dashboard_errorfingerprint (fingerprint, normalised_message)
SELECT substr(md5('fp' || n), 1, 16),
       (ARRAY['Order <n> failed: customer <value> not found',
              'Invalid value for field <value>: <n>',
              'Request timed out after <n> ms',
              'Record <id> already exists',
              'Cannot read property <value> of undefined at line <n>'])[1 + n % 5] || ' (variant ' || n || ')'
FROM generate_series(1, :fingerprints) AS n
ON CONFLICT DO NOTHING;

INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff, is_active,
    date_joined)
SELECT '!', false, 'bench-user-' || n, '', '', '', false, true, now() FROM generate_series(1, 20) AS n;

CREATE TEMP TABLE bench_steps AS
SELECT row_number() OVER (ORDER BY s.id) - 1 AS idx,
       s.id AS step_id, s.celigo_id AS step_celigo, f.id AS flow_id, f.celigo_id AS flow_celigo,
       f.integration_id, s.account_id
FROM dashboard_step s JOIN dashboard_flow f ON f.id = s.flow_id;
CREATE UNIQUE INDEX ON bench_steps (idx);

CREATE TEMP TABLE bench_fps AS
SELECT row_number() OVER (ORDER BY fingerprint) - 1 AS idx, fingerprint, normalised_message
FROM dashboard_errorfingerprint;
CREATE UNIQUE INDEX ON bench_fps (idx);

-- Teams: errors of one flow in ten go to Warehouse (about 10 % of all), three in ten to three other teams.
INSERT INTO dashboard_team (name, description, created_at)
SELECT name, '', now() FROM unnest(ARRAY['Warehouse', 'Finance', 'Marketplaces', 'Web shop']) AS name;
CREATE TEMP TABLE bench_teams AS
SELECT row_number() OVER (ORDER BY id) - 1 AS idx, id FROM dashboard_team;

CREATE TEMP TABLE bench_users AS
SELECT row_number() OVER (ORDER BY id) - 1 AS idx, id FROM auth_user;

INSERT INTO dashboard_errorrecord (
    celigo_flow_id, celigo_step_id, error_id, occurred_at, source, code, message, classification,
    classified_by, trace_key, retry_data_key, flow_job_id, req_and_res_key, o_index, export_data_uri,
    import_data_uri, purge_at, retriable, resolved_at, resolved_by, raw, status, purged, first_seen_at,
    last_seen_at, fingerprint, snoozed_until, retry_outcome, retried_at, account_id, assignee_id,
    regression_of_id, retry_of_id, flow_id, integration_id, step_id, team_id
)
SELECT
    st.flow_celigo, st.step_celigo, substr(md5(g.n::text), 1, 24), g.occurred,
    (ARRAY['application','connection','mapping','lookup','transformation','internal','resource',
           'output_filter','pre_map_hook','post_submit_hook'])[1 + (g.n * 7) % 10],
    (ARRAY['response_failure','script_error','422','400','404','500','invalid_ref','timeout','duplicate',
           'INVALID_FLD_VALUE','RCRD_DSNT_EXIST','USER_ERROR'])[1 + (g.n * 13) % 12],
    replace(fp.normalised_message, '<n>', (g.n % 99991)::text),
    (ARRAY['value','missing','connection','duplicate','governance','parse','intermittent'])[1 + (g.n * 11) % 7],
    CASE WHEN g.n % 3 = 0 THEN 'autopilot' ELSE '' END,
    'SO-' || (g.n % 400000), 
    CASE WHEN g.n % 5 <> 0 THEN substr(md5('r' || g.n), 1, 32) ELSE '' END,
    substr(md5('j' || (g.n / 40)), 1, 24),
    CASE WHEN g.n % 4 = 0 THEN '1700000000000-' || substr(md5('h' || g.n), 1, 32) || '-422-POST' ELSE '' END,
    1, '', '',
    g.occurred + interval '30 days', true,
    CASE WHEN g.open THEN NULL ELSE g.occurred + (g.n % 5000) * interval '1 minute' END,
    CASE WHEN g.open THEN '' WHEN g.n % 2 = 0 THEN 'auto' ELSE 'u-' || (g.n % 7) END,
    '{}'::jsonb,
    CASE WHEN g.open THEN 'open' ELSE 'resolved' END,
    g.occurred + interval '30 days' < now() AND NOT g.open,
    g.occurred + interval '1 minute', now(),
    fp.fingerprint, NULL,
    CASE WHEN g.n % 50 = 0 THEN 'failed' WHEN g.n % 50 = 1 THEN 'succeeded' ELSE '' END,
    NULL, st.account_id,
    CASE WHEN g.n % 10 = 0 THEN u.id END,
    NULL, NULL, st.flow_id, st.integration_id, st.step_id,
    (SELECT id FROM bench_teams WHERE idx = st.flow_id % 10)
FROM (
    SELECT n,
           now() - (random() ^ 2) * interval '90 days' AS occurred,
           -- Open errors are mostly recent: older ones have usually been resolved or purged.
           random() < :open_ratio AS open,
           floor((SELECT count(*) FROM bench_fps) * (random() ^ 3))::int AS fp_idx,
           random() AS step_pick
    FROM generate_series(1, :rows) AS g(n)
) g
-- A message belongs to a few steps (it names that step's record type and target): each fingerprint lands
-- on one of three steps of its own, 10 % of the time on any step.
JOIN bench_steps st ON st.idx = CASE
    WHEN g.step_pick < 0.9 THEN (g.fp_idx * 37 + floor(g.step_pick * 3.34)::int) % (SELECT count(*) FROM bench_steps)
    ELSE floor((SELECT count(*) FROM bench_steps) * (g.step_pick - 0.9) * 10)::int
END
JOIN bench_fps fp ON fp.idx = g.fp_idx
LEFT JOIN bench_users u ON u.idx = g.n % greatest((SELECT count(*) FROM bench_users), 1);

-- Every bench user is a triager; one more, restricted to Warehouse, is the team member of the restricted run.
INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff, is_active,
    date_joined)
VALUES ('!', false, 'bench-restricted', '', '', '', false, true, now());
INSERT INTO dashboard_profile (user_id, role, restricted)
SELECT id, 'triager', username = 'bench-restricted' FROM auth_user;
INSERT INTO dashboard_teammembership (team_id, user_id, role, joined_at)
SELECT (SELECT id FROM bench_teams WHERE idx = 0), id, 'member', now() FROM auth_user
WHERE username = 'bench-restricted';
