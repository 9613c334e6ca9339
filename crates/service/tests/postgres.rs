//! The service on PostgreSQL: the two dialects' schemas match, replicas sharing one database
//! take turns on a session (no double spend, no reused nonce), and a dropped connection is a
//! 503 the service recovers from. Run by `scripts/postgres-tests`, which starts a private
//! server and runs every service test on it as well.

#[path = "support/harness.rs"]
mod harness;

use alloy::primitives::{B256, U256};
use axum::http::StatusCode;
use harness::scenario::*;
use harness::*;
use sessionkeys_service::{Database, Dialect, MasterKey, Service};
use std::collections::BTreeMap;
use std::sync::Arc;

fn settings() -> String {
    postgres_settings().unwrap_or_else(|| {
        panic!("{POSTGRES_ENV} is not set: run these through scripts/postgres-tests")
    })
}

/// table → (column → (type, nullable)), primary key, unique column sets.
type Catalog = BTreeMap<
    String,
    (
        BTreeMap<String, (String, bool)>,
        Vec<String>,
        Vec<Vec<String>>,
    ),
>;

fn sqlite_catalog() -> Catalog {
    let connection = rusqlite::Connection::open_in_memory().unwrap();
    connection
        .execute_batch(sessionkeys_service::db::sqlite_schema())
        .unwrap();
    let mut catalog = Catalog::new();
    let tables: Vec<String> = connection
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for table in tables {
        let mut columns = BTreeMap::new();
        let mut primary: Vec<(i64, String)> = Vec::new();
        let mut statement = connection
            .prepare(&format!(
                "SELECT name, type, \"notnull\", pk FROM pragma_table_info('{table}')"
            ))
            .unwrap();
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, i64>(3)?,
                ))
            })
            .unwrap();
        for row in rows {
            let (name, kind, not_null, pk) = row.unwrap();
            let kind = match kind.as_str() {
                "INTEGER" => "bigint",
                "TEXT" => "text",
                "BLOB" => "bytea",
                other => panic!("{table}.{name}: SQLite type {other} has no PostgreSQL twin"),
            };
            // PostgreSQL makes every primary-key column NOT NULL.
            columns.insert(name.clone(), (kind.to_string(), not_null == 0 && pk == 0));
            if pk > 0 {
                primary.push((pk, name));
            }
        }
        primary.sort();
        let mut unique = Vec::new();
        let mut indexes = connection
            .prepare(&format!(
                "SELECT name FROM pragma_index_list('{table}') WHERE origin = 'u'"
            ))
            .unwrap();
        let names: Vec<String> = indexes
            .query_map([], |row| row.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for index in names {
            let mut columns: Vec<String> = connection
                .prepare(&format!("SELECT name FROM pragma_index_info('{index}')"))
                .unwrap()
                .query_map([], |row| row.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            columns.sort();
            unique.push(columns);
        }
        unique.sort();
        catalog.insert(
            table,
            (
                columns,
                primary.into_iter().map(|(_, n)| n).collect(),
                unique,
            ),
        );
    }
    catalog
}

fn postgres_catalog(settings: &str) -> Catalog {
    let mut catalog = Catalog::new();
    for row in admin_query(
        settings,
        "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns \
         WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
    ) {
        let [table, column, kind, nullable] = [0, 1, 2, 3].map(|i| row[i].clone().unwrap());
        catalog
            .entry(table)
            .or_default()
            .0
            .insert(column, (kind, nullable == "YES"));
    }
    for row in admin_query(
        settings,
        "SELECT c.table_name, c.constraint_type, c.constraint_name, k.column_name \
         FROM information_schema.table_constraints c \
         JOIN information_schema.key_column_usage k \
           ON k.constraint_name = c.constraint_name AND k.table_schema = c.table_schema \
         WHERE c.table_schema = current_schema() AND c.constraint_type IN ('PRIMARY KEY', 'UNIQUE') \
         ORDER BY c.table_name, c.constraint_name, k.ordinal_position",
    ) {
        let [table, kind, name, column] = [0, 1, 2, 3].map(|i| row[i].clone().unwrap());
        let entry = catalog.entry(table).or_default();
        if kind == "PRIMARY KEY" {
            entry.1.push(column);
        } else {
            // Grouped by constraint name: collect, then sort below.
            entry.2.push(vec![name, column]);
        }
    }
    for (_, (_, _, unique)) in catalog.iter_mut() {
        let mut grouped: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for pair in unique.drain(..) {
            grouped
                .entry(pair[0].clone())
                .or_default()
                .push(pair[1].clone());
        }
        let mut sets: Vec<Vec<String>> = grouped
            .into_values()
            .map(|mut columns| {
                columns.sort();
                columns
            })
            .collect();
        sets.sort();
        *unique = sets;
    }
    catalog
}

#[test]
#[ignore = "needs PostgreSQL: scripts/postgres-tests"]
fn the_postgres_schema_has_the_sqlite_schemas_tables_columns_types_and_keys() {
    let settings = fresh_schema(&settings());
    let db = Database::postgres(&settings, MasterKey::random()).unwrap();
    assert_eq!(db.dialect(), Dialect::Postgres);
    let sqlite = sqlite_catalog();
    let postgres = postgres_catalog(&settings);
    assert!(sqlite.contains_key("sessions") && sqlite.contains_key("session_leases"));
    assert_eq!(
        sqlite.keys().collect::<Vec<_>>(),
        postgres.keys().collect::<Vec<_>>(),
        "the same tables"
    );
    for (table, expected) in &sqlite {
        assert_eq!(&postgres[table], expected, "table {table}");
    }
}

#[test]
#[ignore = "needs PostgreSQL: scripts/postgres-tests"]
fn a_second_replica_starting_on_the_same_schema_finds_it_and_its_data() {
    let settings = fresh_schema(&settings());
    let master = MasterKey::random();
    let first = Database::postgres(&settings, master.clone()).unwrap();
    let (app, key) = first.create_app("shop").unwrap();
    let second = Database::postgres(&settings, master).unwrap();
    assert_eq!(second.authenticate(&key).unwrap(), Some(app));
    assert_eq!(
        admin_query(&settings, "SELECT COUNT(*) FROM schema_version")[0][0].as_deref(),
        Some("1"),
        "one schema version row, not one per replica"
    );
}

#[test]
#[ignore = "needs PostgreSQL: scripts/postgres-tests"]
fn a_database_that_cannot_be_reached_is_unavailable_not_a_failure() {
    // Port 1 on loopback: nothing listens there.
    let error = Database::postgres(
        "host=127.0.0.1 port=1 user=postgres dbname=none connect_timeout=2",
        MasterKey::random(),
    )
    .unwrap_err();
    assert!(
        matches!(error, sessionkeys::store::StoreError::Unavailable { .. }),
        "{error:?}"
    );
}

/// Two services over one PostgreSQL schema and one chain: two replicas. The harness's own
/// helpers use the devnet directly; both replicas reach it as over a network.
fn replicas() -> (Harness, Arc<Service>) {
    let settings = fresh_schema(&settings());
    let master = MasterKey::random();
    let mut first = harness_with(Database::postgres(&settings, master.clone()).unwrap());
    let replica = |db: Database| {
        Arc::new(
            Service::new(db, Arc::new(Scripted::network_like(first.backend.clone())))
                .with_rate_limit(0),
        )
    };
    let second = replica(Database::postgres(&settings, master.clone()).unwrap());
    first.service = replica(Database::postgres(&settings, master).unwrap());
    (first, second)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: scripts/postgres-tests"]
async fn two_replicas_executing_under_one_tight_budget_never_double_spend_nor_reuse_a_nonce() {
    let (h, second) = replicas();
    let (_, key) = h.app("shop");
    let (owner, account) = h.funded_owner().await;
    // 100 USDC in all: three transfers of 30 fit, a fourth does not.
    let (id, requested) = h.approved_session(&key, &owner).await;
    let session_hash: B256 = requested["session"]["sessionHash"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let other = Harness {
        backend: h.backend.clone(),
        service: second,
    };
    let recipient = ALICE;
    let attempts = 8;
    let mut tasks = Vec::new();
    for attempt in 0..attempts {
        let (service, key, id) = (
            if attempt % 2 == 0 {
                h.service.clone()
            } else {
                other.service.clone()
            },
            key.clone(),
            id.clone(),
        );
        let backend = h.backend.clone();
        tasks.push(tokio::spawn(async move {
            let replica = Harness { backend, service };
            replica
                .call(
                    "POST",
                    &format!("/v1/sessions/{id}/execute"),
                    Some(&key),
                    Some(calls(recipient, 30 * USDC)),
                )
                .await
        }));
    }
    let mut landed = 0;
    let mut refused = 0;
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match status {
            StatusCode::OK => landed += 1,
            StatusCode::UNPROCESSABLE_ENTITY => {
                assert_eq!(body["error"]["violation"], "LimitExceeded", "{body}");
                refused += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((landed, refused), (3, attempts - 3));
    // The recipient got exactly three transfers.
    assert_eq!(
        usdc_balance(h.backend.as_ref(), recipient).await,
        U256::from(90 * USDC)
    );
    // The session's nonce lane moved by exactly the ops that landed: no nonce used twice,
    // none skipped.
    let nonce = sessionkeys::operation::next_nonce(
        h.backend.as_ref(),
        sessionkeys::EntryPointVersion::V07,
        account,
        sessionkeys_chain::userop::nonce_key(
            validator(),
            sessionkeys_chain::userop::session_lane(session_hash),
        ),
    )
    .await
    .unwrap();
    assert_eq!(nonce & U256::from(u64::MAX), U256::from(3));
    // Both replicas' logs together hold every attempt.
    let (status, activity) = h
        .call(
            "GET",
            "/v1/activity?kind=execute&limit=50",
            Some(&key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{activity}");
    assert_eq!(activity["activity"].as_array().unwrap().len(), attempts);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: scripts/postgres-tests"]
async fn a_restart_dropping_every_connection_costs_at_most_one_503_with_retry_after() {
    let (settings, schema) = fresh_schema_named(&settings());
    let h = harness_with(Database::postgres(&settings, MasterKey::random()).unwrap());
    let (_, key) = h.app("shop");
    let (owner, _) = h.funded_owner().await;
    let (id, _) = h.approved_session(&key, &owner).await;
    // Every connection of this service is closed under it, as a database restart would.
    let terminated = admin_query(
        &settings,
        &format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = '{schema}' AND pid <> pg_backend_pid()"
        ),
    );
    assert!(
        terminated.iter().any(|row| row[0].as_deref() == Some("t")),
        "no connection of the service was closed: {terminated:?}"
    );
    // `pg_terminate_backend` only signals: wait until every one of them has gone, as after a
    // restart (a backend still dying may answer the pool's check, then fail the job).
    let alive = || {
        admin_query(
            &settings,
            &format!(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = '{schema}' \
                 AND pid <> pg_backend_pid()"
            ),
        )[0][0]
            .clone()
    };
    let waiting_since = std::time::Instant::now();
    while alive().as_deref() != Some("0") {
        assert!(
            waiting_since.elapsed() < std::time::Duration::from_secs(10),
            "the service's connections were signalled but did not end"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut answers = Vec::new();
    // The first request that meets a dead connection may fail; the pool then asks each of its
    // other connections before their next use. Ask until eight answers in a row are whole
    // (jobs go round the pool's eight connections, so each of them has been used).
    while answers.len() < 40
        && (answers.len() < 8
            || answers[answers.len() - 8..]
                .iter()
                .any(|s| *s != StatusCode::OK))
    {
        let (status, headers, body) = h
            .call_headers(
                "GET",
                &format!("/v1/sessions/{id}"),
                &[("authorization", &format!("Bearer {key}"))],
                None,
            )
            .await;
        if status == StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(body["error"]["code"], "database_unavailable", "{body}");
            assert!(headers.contains_key("retry-after"));
        } else {
            assert_eq!(status, StatusCode::OK, "{body}");
            assert_eq!(body["id"], id.as_str(), "the session is intact");
        }
        answers.push(status);
    }
    assert!(
        answers[answers.len() - 8..]
            .iter()
            .all(|s| *s == StatusCode::OK),
        "{answers:?}"
    );
    // One lost connection costs one request, not one per connection of the pool (a background
    // job of the service may have met it first: then none).
    let failed = answers
        .iter()
        .filter(|s| **s == StatusCode::SERVICE_UNAVAILABLE)
        .count();
    assert!(failed <= 1, "{answers:?}");
}
