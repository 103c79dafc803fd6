#!/usr/bin/env bash
# End-to-end scenarios of the main job against a real database server and the mock Kafka broker:
#   tests/integration/e2e.sh mysql|postgresql PORT [SCENARIO...]
# Every scenario asserts exact outcomes (rows in Kafka by id: none lost, none duplicated; exact
# JSON bodies; exit codes; log lines). Runs every scenario when none is named.
# The scenarios live in tests/integration/e2e/, one file per feature (streaming, offsets, faults,
# config, seed, backfill, monitoring, locking; helpers.sh for what several use); their checks of
# consumer dumps, logs and metrics are tests/support/sfcheck.py. Exactly-once into Kafka has its
# own script, kafka_eos.sh.
set -u
source "$(dirname "$0")/lib.sh"

KIND=$1
PORT=$2
shift 2

for f in helpers streaming offsets faults config seed backfill monitoring locking; do
    # shellcheck source=/dev/null
    source "$(dirname "$0")/e2e/$f.sh"
done

ALL="s_config_errors s_compat_keys s_gaps s_types s_names s_injection s_seed_meta s_custom_query_text_logger s_no_pk
     s_wrong_password s_live_and_restart s_kill9 s_db_restart s_db_down_at_start s_broker_down
     s_ts_inc_ties s_timestamp_mode s_bulk_mode s_multi_table_status_db s_out_of_order s_out_of_order_restart
     s_sparse_gaps s_backfill s_backfill_late_commit s_monitoring s_seed_channel
     s_no_lower_bound s_text_pk_refused s_text_incremental s_two_agents_one_key s_two_sources_one_key
     s_status_table_race s_status_table_no_create s_lock_lost s_poison"
db_start "$KIND" "$PORT"
kafka_start
for s in ${*:-$ALL}; do
    "$s"
done
finish
