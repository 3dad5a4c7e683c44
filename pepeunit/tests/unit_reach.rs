//! The calls of PROTOCOL §7a against the testkit: each one's success and each of its errors, the
//! backend's rules (visibility, own uuid, rewritable inputs and their rebuild, DataPipe's flag),
//! pages over 500 refused before the request, and no error carrying the token.

mod support;

use std::time::{Duration, Instant};

use pepeunit::LogLevel;
use pepeunit::client::PepeunitClient;
use pepeunit::rest::{
    AggregationFunction, AggregationQuery, Created, FirmwareUpdateStatus, LogQuery, NRecordsQuery,
    Order, Page, RelativeTime, RestOptions, StateType, TimeWindowQuery, UnitNodeType,
};
use pepeunit::{Command, Error, Result};
use pepeunit_testkit::{
    Aggregate, AggregationType, Instance, InstanceOptions, PipePolicy, TestUnit, UnitSpec,
    Visibility, datetime_ago,
};
use serde_json::{Value, json};
use support::{TempDir, fast_retries};

const WAIT: Duration = Duration::from_secs(10);

/// An instance with a unit per name (their files in one temp dir): the units, in order.
async fn units<const N: usize>(tag: &str, names: [&str; N]) -> (Instance, TempDir, [TestUnit; N]) {
    let instance = Instance::start(InstanceOptions::default()).await.unwrap();
    let dir = TempDir::new(tag);
    let mut units = Vec::new();
    for name in names {
        units.push(support::named_unit(&instance, &dir, name).await);
    }
    let units = units.try_into().unwrap_or_else(|_| unreachable!());
    (instance, dir, units)
}

fn client_with(unit: &TestUnit, options: RestOptions) -> PepeunitClient {
    support::rest_client(unit, options)
}

fn client(unit: &TestUnit) -> PepeunitClient {
    client_with(unit, fast_retries())
}

/// The backend error of `result`, checked not to carry `unit`'s token.
fn backend_error<T: std::fmt::Debug>(unit: &TestUnit, result: Result<T>) -> (u16, String) {
    match result {
        Err(e @ Error::Backend { .. }) => {
            assert!(!e.to_string().contains(unit.token()), "token in {e}");
            let Error::Backend { status, detail } = e else {
                unreachable!()
            };
            (status, detail)
        }
        other => panic!("expected a backend error, got {other:?}"),
    }
}

/// The reason of an `InvalidArgument`.
fn invalid_argument<T: std::fmt::Debug>(result: Result<T>) -> String {
    match result {
        Err(Error::InvalidArgument(reason)) => reason,
        other => panic!("expected an invalid argument, got {other:?}"),
    }
}

fn node_uuid(unit: &TestUnit, name: &str) -> String {
    unit.node_uuid(name).unwrap().to_owned()
}

fn node_topic(unit: &TestUnit, name: &str) -> String {
    format!("localhost/{}/pepeunit", node_uuid(unit, name))
}

fn log_topic(unit: &TestUnit) -> String {
    format!("localhost/output_base_topic/{}/log/pepeunit", unit.uuid())
}

/// Waits until `check` holds (the instance records MQTT messages on its own task).
async fn eventually(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check() {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What the instance root says of DataPipe.
async fn datapipe_flag(client: &PepeunitClient) -> Option<bool> {
    let info = client.instance_info().await.unwrap();
    info.feature_flags.map(|flags| flags.datapipe)
}

fn retried(client: &PepeunitClient) -> bool {
    client
        .logger()
        .get_full_log()
        .iter()
        .any(|e| e.text.contains("retry"))
}

#[tokio::test]
async fn units_and_nodes_are_read_under_the_visibility_rule() {
    let (instance, _dir, [a, b]) = units("reach-read", ["alpha", "beta"]).await;
    let (ca, cb) = (client(&a), client(&b));

    let read = ca.get_unit(b.uuid()).await.unwrap();
    assert_eq!((read.uuid.as_str(), read.name.as_str()), (b.uuid(), "beta"));
    assert_eq!(read.visibility_level, "Public");
    assert_eq!(read.firmware_update_status, None);
    assert!(read.repo_uuid.is_some() && read.creator_uuid.is_some());

    let node_read = ca
        .get_unit_node(&node_uuid(&b, "input/pepeunit"))
        .await
        .unwrap();
    assert_eq!(node_read.node_type, UnitNodeType::Input);
    assert_eq!(node_read.unit_uuid, b.uuid());
    assert_eq!(
        (node_read.state, node_read.max_connections),
        (None, Some(10))
    );
    // New `…/pepeunit` nodes run a LastValue pipeline (the backend's default flag).
    assert!(node_read.is_data_pipe_active);

    // A node's state is its last value: what DataPipe's LastValue would give.
    instance
        .publish(&node_topic(&b, "output/pepeunit"), "21.5")
        .await
        .unwrap();
    let output = node_uuid(&b, "output/pepeunit");
    eventually("the node's last value", || {
        instance
            .node_state(&b, "output/pepeunit")
            .unwrap()
            .as_deref()
            == Some("21.5")
    })
    .await;
    let read = ca.get_unit_node(&output).await.unwrap();
    assert_eq!(read.state.as_deref(), Some("21.5"));

    // Unknown: a unit is the backend's 422, a node its 500 — not retried, read as "not found".
    let unknown = "6f1c1e7a-0b3c-4d7e-9a51-1a2b3c4d5e6f";
    let (status, detail) = backend_error(&a, ca.get_unit(unknown).await);
    assert_eq!(status, 422);
    assert_eq!(
        detail,
        "422: 2: Validation Error: The object does not exist"
    );
    let (status, detail) = backend_error(&a, ca.get_unit_node(unknown).await);
    assert_eq!(status, 500);
    assert!(detail.contains("not found or not visible"), "{detail}");
    assert!(detail.contains(unknown), "{detail}");
    assert!(!retried(&ca), "the node read's 500 was retried");

    // What is not a uuid never leaves the unit (it would reach another route).
    assert!(invalid_argument(ca.get_unit("log_list").await).contains("\"log_list\""));
    invalid_argument(ca.get_unit_node("../units").await);

    // Private: only with a permission row.
    let private = "1: No Access: Private visibility level is not allowed";
    instance
        .set_unit_visibility(&b, Visibility::Private)
        .unwrap();
    let (status, detail) = backend_error(&a, ca.get_unit(b.uuid()).await);
    assert_eq!(
        (status, detail.as_str()),
        (403, &*format!("403: {private}"))
    );
    assert!(cb.get_unit(b.uuid()).await.is_ok(), "a unit sees itself");
    instance
        .set_node_visibility(&b, "input/pepeunit", Visibility::Private)
        .unwrap();
    let input = node_uuid(&b, "input/pepeunit");
    assert_eq!(backend_error(&a, ca.get_unit_node(&input).await).0, 403);
    assert!(
        cb.get_unit_node(&input).await.is_ok(),
        "a unit sees its nodes"
    );
    instance
        .set_unit_visibility(&b, Visibility::Internal)
        .unwrap();
    assert!(ca.get_unit(b.uuid()).await.is_ok(), "Internal: any unit");

    // An edge alpha → beta gives alpha rows on beta's input and on beta; beta only on alpha's output.
    instance
        .set_unit_visibility(&b, Visibility::Private)
        .unwrap();
    instance
        .set_unit_visibility(&a, Visibility::Private)
        .unwrap();
    instance
        .set_node_visibility(&a, "output/pepeunit", Visibility::Private)
        .unwrap();
    instance
        .link(&a, "output/pepeunit", &b, "input/pepeunit")
        .unwrap();
    assert!(ca.get_unit_node(&input).await.is_ok());
    assert!(ca.get_unit(b.uuid()).await.is_ok());
    assert!(
        cb.get_unit_node(&node_uuid(&a, "output/pepeunit"))
            .await
            .is_ok()
    );
    assert_eq!(backend_error(&b, cb.get_unit(a.uuid()).await).0, 403);
}

#[tokio::test]
async fn set_state_input_publishes_then_rebuilds_the_node() {
    let (instance, _dir, [a, b]) = units("reach-write", ["alpha", "beta"]).await;
    let ca = client(&a);
    let input = node_uuid(&b, "input/pepeunit");
    let topic = node_topic(&b, "input/pepeunit");

    // Not rewritable (the backend's default): 403, nothing published.
    let denied =
        "403: 1: No Access: The Unit requesting the information does not have access to it";
    let (status, detail) = backend_error(&a, ca.set_state_input(&input, Some("on")).await);
    assert_eq!((status, detail.as_str()), (403, denied));

    instance
        .set_rewritable_input(&b, "input/pepeunit", true)
        .unwrap();
    let written = ca.set_state_input(&input, Some("on")).await.unwrap();
    let message = instance.next_message(&topic, WAIT).await.unwrap();
    assert_eq!(
        message.text(),
        Some("on"),
        "published raw to the node's topic"
    );
    assert_eq!(written.state.as_deref(), Some("on"));
    assert_eq!(
        instance
            .node_state(&b, "input/pepeunit")
            .unwrap()
            .as_deref(),
        Some("on")
    );
    // The backend stores the node rebuilt with its defaults: rewritable off, Public, no DataPipe.
    assert!(!written.is_rewritable_input);
    assert_eq!(written.visibility_level, "Public");
    assert!(!written.is_data_pipe_active);
    assert_eq!(ca.get_unit_node(&input).await.unwrap(), written);
    let (status, _) = backend_error(&a, ca.set_state_input(&input, Some("off")).await);
    assert_eq!(status, 403, "a second write meets the rebuilt node");

    // `None` clears the value and publishes an empty payload.
    instance
        .set_rewritable_input(&b, "input/pepeunit", true)
        .unwrap();
    let cleared = ca.set_state_input(&input, None).await.unwrap();
    assert_eq!(cleared.state, None);
    let message = instance.next_message(&topic, WAIT).await.unwrap();
    assert!(message.payload.is_empty());

    // An output node: 422; an unknown node: 422 (only the plain read answers 500).
    let output = node_uuid(&b, "output/pepeunit");
    let (status, detail) = backend_error(&a, ca.set_state_input(&output, Some("1")).await);
    assert_eq!(status, 422);
    assert_eq!(
        detail,
        format!("422: 8: UnitNode Validation Error: This Node {output} is not Input")
    );
    let unknown = "6f1c1e7a-0b3c-4d7e-9a51-1a2b3c4d5e6f";
    let (status, detail) = backend_error(&a, ca.set_state_input(unknown, Some("1")).await);
    assert_eq!((status, detail.contains("does not exist")), (422, true));

    // A Private rewritable input: only with the edge's row.
    instance
        .set_rewritable_input(&b, "input/pepeunit", true)
        .unwrap();
    instance
        .set_node_visibility(&b, "input/pepeunit", Visibility::Private)
        .unwrap();
    assert_eq!(
        backend_error(&a, ca.set_state_input(&input, Some("2")).await).0,
        403
    );
    instance
        .link(&a, "output/pepeunit", &b, "input/pepeunit")
        .unwrap();
    assert!(ca.set_state_input(&input, Some("2")).await.is_ok());
    assert!(
        instance.rejections().is_empty(),
        "{:?}",
        instance.rejections()
    );
}

#[tokio::test]
async fn commands_go_to_the_own_input_base_topic_and_log_sync_deletes_the_stored_log() {
    let (instance, dir, [a]) = units("reach-command", ["alpha"]).await;
    let ca = client(&a);
    let command_topic =
        |name: &str| format!("localhost/input_base_topic/{}/{name}/pepeunit", a.uuid());

    ca.send_command(Command::EnvUpdate).await.unwrap();
    let message = instance
        .next_message(&command_topic("env_update"), WAIT)
        .await
        .unwrap();
    assert_eq!(message.text(), Some(r#"{"COMMAND": "EnvUpdate"}"#));

    // Reset is a command the backend's route cannot ask for: refused before any request.
    let reset = ca.send_command(Command::Reset).await;
    assert!(
        matches!(&reset, Err(Error::InvalidArgument(reason)) if reason.contains("Reset")),
        "{reset:?}"
    );
    assert!(instance.messages(&command_topic("reset")).is_empty());

    ca.send_command(Command::Update).await.unwrap();
    let message = instance
        .next_message(&command_topic("update"), WAIT)
        .await
        .unwrap();
    let payload: Value = serde_json::from_slice(&message.payload).unwrap();
    assert_eq!(payload["COMMAND"], "Update");
    assert!(payload["PU_COMMIT_VERSION"].is_string());
    let status = ca.get_unit(a.uuid()).await.unwrap().firmware_update_status;
    assert_eq!(status, Some(FirmwareUpdateStatus::RequestSent));

    // The instance's stored log (what arrived on log/pepeunit) is deleted before LogSync is sent.
    let entry = json!({"level": "Info", "text": "kept by the instance", "create_datetime": "2025-04-08T11:27:52.044394+00:00"});
    instance
        .publish(&log_topic(&a), entry.to_string())
        .await
        .unwrap();
    eventually("the stored log entry", || instance.logs(&a).len() == 1).await;
    assert_eq!(ca.log_list(&LogQuery::default()).await.unwrap().count, 1);
    ca.send_command(Command::LogSync).await.unwrap();
    let message = instance
        .next_message(&command_topic("log_sync"), WAIT)
        .await
        .unwrap();
    assert_eq!(message.text(), Some(r#"{"COMMAND": "LogSync"}"#));
    assert!(instance.logs(&a).is_empty());
    assert_eq!(ca.log_list(&LogQuery::default()).await.unwrap().count, 0);
    // Whoever asks for LogSync (here the instance itself, over MQTT), the stored log goes first.
    instance
        .publish(&log_topic(&a), entry.to_string())
        .await
        .unwrap();
    eventually("the stored log entry", || instance.logs(&a).len() == 1).await;
    instance.send_command(&a, Command::LogSync).await.unwrap();
    assert!(instance.logs(&a).is_empty());

    // A schema without the topic: the backend silently sends nothing.
    let spec = UnitSpec {
        schema_example: Some(
            json!({"input_base_topic": ["update/pepeunit"], "output_base_topic": ["state/pepeunit"]}),
        ),
        ..UnitSpec::new("bare", dir.path().join("bare"))
    };
    let bare = instance.create_unit(spec).await.unwrap();
    client(&bare)
        .send_command(Command::SchemaUpdate)
        .await
        .unwrap();
    let topic = format!(
        "localhost/input_base_topic/{}/schema_update/pepeunit",
        bare.uuid()
    );
    assert!(
        instance
            .next_message(&topic, Duration::from_millis(500))
            .await
            .is_none()
    );
}

#[tokio::test]
async fn the_stored_log_is_filtered_ordered_and_paged() {
    let (instance, _dir, [a]) = units("reach-logs", ["alpha"]).await;
    let ca = client(&a);
    let entries: Vec<Value> = (0..620)
        .map(|i| {
            let level = if i % 4 == 0 { "Error" } else { "Info" };
            json!({"level": level, "text": format!("entry {i}"), "create_datetime": "2025-04-08T11:27:52.044394+00:00"})
        })
        .collect();
    instance
        .publish(&log_topic(&a), Value::Array(entries).to_string())
        .await
        .unwrap();
    eventually("620 stored entries", || instance.logs(&a).len() == 620).await;

    let errors = LogQuery {
        levels: vec![LogLevel::Error],
        order: Order::Desc,
        page: Page {
            offset: 0,
            limit: 10,
        },
    };
    let page = ca.log_list(&errors).await.unwrap();
    assert_eq!((page.count, page.unit_logs.len()), (155, 10));
    assert_eq!(page.unit_logs[0].text, "entry 616", "newest first");
    assert!(page.unit_logs.iter().all(|l| l.level == LogLevel::Error));
    assert_eq!(page.unit_logs[0].unit_uuid, a.uuid());
    assert_eq!(page.unit_logs[0].create_datetime, "2025-04-08T11:27:52");
    assert_eq!(page.unit_logs[0].expiration_datetime, "2025-04-09T11:27:52");

    // More than the backend's page, read page after page.
    let all = ca.log_list_all(&[], Order::Asc).await.unwrap();
    assert_eq!(all.len(), 620);
    assert_eq!(
        (all[0].text.as_str(), all[619].text.as_str()),
        ("entry 0", "entry 619")
    );

    // A page over 500 is refused before any request: the queued fault is still there afterwards.
    instance.fail_next("/units/log_list/", 418, r#"{"detail": "queued"}"#);
    let too_big = LogQuery {
        page: Page {
            offset: 0,
            limit: 501,
        },
        ..LogQuery::default()
    };
    assert!(invalid_argument(ca.log_list(&too_big).await).contains("limit 501"));
    let (status, _) = backend_error(&a, ca.log_list(&LogQuery::default()).await);
    assert_eq!(status, 418, "the refused call reached the instance");
}

#[tokio::test]
async fn data_pipe_reads_each_pipeline_with_its_filters() {
    let (instance, _dir, [a, sensor]) = units("reach-pipe", ["alpha", "sensor"]).await;
    let ca = client(&a);
    let out = "output/pepeunit";
    let node = node_uuid(&sensor, out);
    let ago = |minutes: u64| datetime_ago(Duration::from_secs(minutes * 60));

    for (i, state) in ["20.5", "21", "warm", "22"].iter().enumerate() {
        let minutes = 40 - 10 * i as u64;
        instance
            .add_n_record(&sensor, out, state, &ago(minutes))
            .unwrap();
        instance
            .add_window_record(&sensor, out, state, &ago(minutes))
            .unwrap();
    }
    let n = ca
        .data_pipe_data(&node, &NRecordsQuery::default())
        .await
        .unwrap();
    assert_eq!(n.count, 4);
    let states: Vec<&str> = n.pipe_data.iter().map(|r| r.state.as_str()).collect();
    assert_eq!(states, ["22", "warm", "21", "20.5"], "newest first");
    assert_eq!(n.pipe_data[1].state_type, StateType::Text);
    assert_eq!(n.pipe_data[0].state_type, StateType::Number);
    assert_eq!(n.pipe_data[0].unit_node_uuid, node);

    let recent = TimeWindowQuery {
        created: Created {
            within: Some(RelativeTime::minutes(25)),
            ..Created::default()
        },
        order: Order::Asc,
        ..TimeWindowQuery::default()
    };
    let w = ca.data_pipe_data(&node, &recent).await.unwrap();
    let states: Vec<&str> = w.pipe_data.iter().map(|r| r.state.as_str()).collect();
    assert_eq!(states, ["warm", "22"]);
    let searched = NRecordsQuery {
        search: Some("WAR".into()),
        ..NRecordsQuery::default()
    };
    assert_eq!(ca.data_pipe_data(&node, &searched).await.unwrap().count, 1);
    let until = NRecordsQuery {
        created: Created {
            to: Some(ago(25)),
            ..Created::default()
        },
        page: Page {
            offset: 1,
            limit: 1,
        },
        ..NRecordsQuery::default()
    };
    let page = ca.data_pipe_data(&node, &until).await.unwrap();
    assert_eq!((page.count, page.pipe_data.len()), (2, 1));
    assert_eq!(page.pipe_data[0].state, "20.5");

    for (kind, value) in [(AggregationType::Avg, 21.25), (AggregationType::Max, 22.0)] {
        for hours in [2, 1] {
            let aggregate = Aggregate {
                kind,
                value: value + hours as f64,
                window_seconds: 3600,
                window_end: ago(60 * hours),
            };
            instance.add_aggregate(&sensor, out, aggregate).unwrap();
        }
    }
    let averages = AggregationQuery {
        functions: vec![AggregationFunction::Avg],
        window_size: Some(3600),
        page: Page {
            offset: 0,
            limit: 1,
        },
        ..AggregationQuery::default()
    };
    let latest = ca.data_pipe_data(&node, &averages).await.unwrap();
    assert_eq!(latest.count, 2);
    let record = &latest.pipe_data[0];
    assert_eq!(
        (record.state, record.aggregation_type),
        (22.25, AggregationFunction::Avg)
    );
    assert_eq!(record.time_window_size, 3600);
    let both = AggregationQuery::default();
    assert_eq!(ca.data_pipe_data(&node, &both).await.unwrap().count, 4);
    let other_window = AggregationQuery {
        window_size: Some(60),
        ..AggregationQuery::default()
    };
    assert_eq!(
        ca.data_pipe_data(&node, &other_window).await.unwrap().count,
        0
    );
    let odd_window = AggregationQuery {
        window_size: Some(61),
        ..AggregationQuery::default()
    };
    assert!(invalid_argument(ca.data_pipe_data(&node, &odd_window).await).contains("61"));

    // More records than a page, read page after page.
    for i in 0..730 {
        instance
            .add_n_record(&sensor, "input/pepeunit", &i.to_string(), &ago(1))
            .unwrap();
    }
    let input = node_uuid(&sensor, "input/pepeunit");
    let all = ca
        .data_pipe_data_all(&input, &NRecordsQuery::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 730);
    let page_501 = NRecordsQuery {
        page: Page {
            offset: 0,
            limit: 501,
        },
        ..NRecordsQuery::default()
    };
    invalid_argument(ca.data_pipe_data(&input, &page_501).await);

    // An unknown node is the backend's 422; with DataPipe off every call is its 405, and the
    // instance root says so.
    let unknown = "6f1c1e7a-0b3c-4d7e-9a51-1a2b3c4d5e6f";
    let (status, _) = backend_error(
        &a,
        ca.data_pipe_data(unknown, &NRecordsQuery::default()).await,
    );
    assert_eq!(status, 422);
    assert_eq!(datapipe_flag(&ca).await, Some(true));
    instance.set_data_pipe_enabled(false);
    let off = "405: 15: Feature Flag Error: This feature has been disabled by the instance Owner";
    let (status, detail) = backend_error(
        &a,
        ca.data_pipe_data(&node, &NRecordsQuery::default()).await,
    );
    assert_eq!((status, detail.as_str()), (405, off));
    assert_eq!(backend_error(&a, ca.data_pipe_csv(&node).await).0, 405);
    assert_eq!(datapipe_flag(&ca).await, Some(false));
}

#[tokio::test]
async fn the_csv_export_is_unpacked_to_its_text_within_its_cap() {
    let (instance, _dir, [a, sensor]) = units("reach-csv", ["alpha", "sensor"]).await;
    let ca = client(&a);
    let out = "output/pepeunit";
    let node = node_uuid(&sensor, out);

    // The backend's 422s: a LastValue pipeline (the default), none at all, no data yet.
    let pipe_error = |msg: &str| format!("422: 8: DataPipe Validation Error: {msg}");
    let (_, detail) = backend_error(&a, ca.data_pipe_csv(&node).await);
    assert_eq!(
        detail,
        pipe_error("LastValue type is not supported on this function")
    );
    instance.set_data_pipe(&sensor, out, None).unwrap();
    let (_, detail) = backend_error(&a, ca.data_pipe_csv(&node).await);
    assert_eq!(detail, pipe_error("Data pipe is not active"));
    instance
        .set_data_pipe(&sensor, out, Some(PipePolicy::NRecords { count: 100 }))
        .unwrap();
    let (_, detail) = backend_error(&a, ca.data_pipe_csv(&node).await);
    assert_eq!(detail, pipe_error("No data found"));

    instance
        .add_n_record(&sensor, out, "21.5", "2025-04-08T11:27:52")
        .unwrap();
    instance
        .add_n_record(&sensor, out, "said \"hi\", twice", "2025-04-08T11:00:00")
        .unwrap();
    let csv = ca.data_pipe_csv(&node).await.unwrap();
    assert_eq!(
        csv,
        format!(
            "unit_node_uuid,state,state_type,create_datetime,max_count,size\r\n\
             {node},\"said \"\"hi\"\", twice\",Text,2025-04-08 11:00:00,100,16\r\n\
             {node},21.5,Number,2025-04-08 11:27:52,100,4\r\n"
        )
    );

    // Over the cap: refused, and the temp files are gone either way.
    let small = RestOptions {
        max_csv_bytes: 64,
        ..fast_retries()
    };
    let error = client_with(&a, small)
        .data_pipe_csv(&node)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("get_data_pipe_data_csv"), "{error}");
    assert!(error.contains("exceeds 64 bytes"), "{error}");
    let leftovers: Vec<String> = std::fs::read_dir(a.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("csv"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    invalid_argument(ca.data_pipe_csv("not-a-node").await);
}

#[tokio::test]
async fn the_instance_root_needs_no_token() {
    let (_instance, _dir, [a]) = units("reach-root", ["alpha"]).await;
    let info = client(&a).instance_info().await.unwrap();
    assert_eq!(info.version, "1.2.0");
    let flags = info.feature_flags.unwrap();
    assert!(flags.datapipe && flags.datapipe_default_last_value);

    // A unit whose token the instance would refuse still reads the root.
    let mut env: Value = serde_json::from_slice(&std::fs::read(a.env_path()).unwrap()).unwrap();
    env["PU_AUTH_TOKEN"] = json!("not.a.token");
    std::fs::write(a.env_path(), env.to_string()).unwrap();
    assert_eq!(client(&a).instance_info().await.unwrap().version, "1.2.0");
}

#[tokio::test]
async fn a_client_without_rest_says_so_for_every_call() {
    let (_instance, _dir, [a]) = units("reach-off", ["alpha"]).await;
    let off = PepeunitClient::builder(a.env_path(), a.schema_path(), a.dir().join("log.json"))
        .build()
        .unwrap();
    let uuid = a.uuid();
    assert!(matches!(off.get_unit(uuid).await, Err(Error::RestDisabled)));
    assert!(matches!(
        off.get_unit_node(uuid).await,
        Err(Error::RestDisabled)
    ));
    assert!(matches!(
        off.set_state_input(uuid, None).await,
        Err(Error::RestDisabled)
    ));
    assert!(matches!(
        off.send_command(Command::LogSync).await,
        Err(Error::RestDisabled)
    ));
    assert!(matches!(
        off.log_list(&LogQuery::default()).await,
        Err(Error::RestDisabled)
    ));
    let query = NRecordsQuery::default();
    assert!(matches!(
        off.data_pipe_data(uuid, &query).await,
        Err(Error::RestDisabled)
    ));
    assert!(matches!(
        off.data_pipe_csv(uuid).await,
        Err(Error::RestDisabled)
    ));
    assert!(matches!(
        off.instance_info().await,
        Err(Error::RestDisabled)
    ));
}
