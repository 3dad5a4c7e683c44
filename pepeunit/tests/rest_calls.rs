//! The REST calls (PROTOCOL §7) against the testkit's REST server, in both backend eras: results,
//! typed backend errors (403, 422, 500) that leave files untouched, broken bodies, retries, storage.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine;
use pepeunit::client::PepeunitClient;
use pepeunit::rest::{
    ArchiveRequest, HttpClient, HttpRequest, HttpResponse, HttpTimeouts, ReqwestHttp, RestOptions,
    UnitNodeType,
};
use pepeunit::schema::Topics;
use pepeunit::settings::Env;
use pepeunit::update::archive::{self, ArchiveFormat};
use pepeunit::{BoxFuture, Error, Result};
use pepeunit_testkit::{BackendEra, Instance, ProgramSource, TestUnit};
use serde_json::{Value, json};
use support::{TempDir, fast_retries as fast, instance, unchanged};

const ERAS: [BackendEra; 2] = [BackendEra::V1_0, BackendEra::V1_1];
const INTERNAL_ERROR: &str = r#"{"detail": "500: Internal Server Error"}"#;

async fn unit(instance: &Instance, dir: &TempDir, name: &str) -> TestUnit {
    support::named_unit(instance, dir, name).await
}

fn client(unit: &TestUnit, options: RestOptions) -> PepeunitClient {
    support::rest_client(unit, options)
}

fn log_text(client: &PepeunitClient) -> String {
    client
        .logger()
        .get_full_log()
        .iter()
        .map(|e| format!("{:?} {}\n", e.level, e.text))
        .collect()
}

fn backend_error<T: std::fmt::Debug>(result: Result<T>) -> (u16, String) {
    match result {
        Err(Error::Backend { status, detail }) => (status, detail),
        other => panic!("expected a backend error, got {other:?}"),
    }
}

/// The names in `dir` other than `keep`: a failed download must leave no temp file behind.
fn leftovers(dir: &Path, keep: &[&str]) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !keep.contains(&n.as_str()))
        .collect()
}

/// A token for `uuid` that the backend never issued (same payload, another signature).
fn forged_token(uuid: &str) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.{}",
        b64.encode(r#"{"alg":"HS256","typ":"JWT"}"#),
        b64.encode(json!({"uuid": uuid, "type": "Unit"}).to_string()),
        b64.encode("not the signature")
    )
}

fn set_env_key(path: &Path, key: &str, value: Value) {
    let mut env: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    env[key] = value;
    std::fs::write(path, serde_json::to_vec_pretty(&env).unwrap()).unwrap();
}

fn output_topic(client: &PepeunitClient) -> String {
    client.schema().current().output_topic()["output/pepeunit"][0].clone()
}

#[tokio::test]
async fn every_call_answers_in_both_backend_eras() {
    for era in ERAS {
        let instance = instance(era).await;
        let dir = TempDir::new("rest-calls");
        let a = unit(&instance, &dir, "alpha").await;
        let b = unit(&instance, &dir, "beta").await;
        instance
            .link(&a, "output/pepeunit", &b, "input/pepeunit")
            .unwrap();
        let commit = "0123456789abcdef0123456789abcdef01234567";
        let files = vec![("src/main.py".to_string(), b"print(1)\n".to_vec())];
        instance
            .set_program(&a, commit, ProgramSource::Files(files), None)
            .unwrap();
        let client = client(&a, fast());

        // Archives in every format, each streamed to its file.
        for (request, format) in [
            (ArchiveRequest::default(), ArchiveFormat::Zlib),
            (
                ArchiveRequest::Tgz {
                    wbits: 31,
                    level: 1,
                },
                ArchiveFormat::Gzip,
            ),
            (
                ArchiveRequest::Tgz {
                    wbits: -12,
                    level: 6,
                },
                ArchiveFormat::RawDeflate,
            ),
            (ArchiveRequest::Tar, ArchiveFormat::Tar),
            (ArchiveRequest::Zip, ArchiveFormat::Zip),
        ] {
            let client = self::client(
                &a,
                RestOptions {
                    archive: request,
                    ..fast()
                },
            );
            let path = dir.path().join(format!("update-{format:?}"));
            let bytes = client.download_update(&path).await.unwrap();
            assert_eq!(bytes, std::fs::metadata(&path).unwrap().len());
            assert_eq!(archive::detect_format(&path).unwrap(), format, "{era:?}");
        }

        // env and schema: either body shape becomes a plain object file.
        let env_path = dir.path().join("env-copy.json");
        client.download_env(&env_path).await.unwrap();
        let text = std::fs::read_to_string(&env_path).unwrap();
        assert!(text.trim_start().starts_with('{'), "{era:?}: {text}");
        let env = Env::parse(&text, "copy").unwrap();
        assert_eq!(env.auth_token, a.token());
        assert_eq!(env.commit_version, commit);
        let schema_path = dir.path().join("schema-copy.json");
        client.download_schema(&schema_path).await.unwrap();
        let text = std::fs::read_to_string(&schema_path).unwrap();
        assert!(text.trim_start().starts_with('{'), "{era:?}: {text}");
        let live = std::fs::read_to_string(a.schema_path()).unwrap();
        assert_eq!(
            Topics::parse(&text, "copy").unwrap(),
            Topics::parse(&live, "live").unwrap()
        );

        // State storage, empty at first.
        assert_eq!(client.get_state_storage().await.unwrap(), "");
        let state = r#"{"count": 3, "note": "ünïcode \" and \\ quotes"}"#;
        client.set_state_storage(state).await.unwrap();
        assert_eq!(instance.state_storage(&a), state);
        assert_eq!(client.get_state_storage().await.unwrap(), state);

        // Who listens to alpha's output, and who owns those nodes.
        let output = output_topic(&client);
        let inputs = client.get_input_by_output(&output, 10, 0).await.unwrap();
        assert_eq!(inputs.count, 1);
        let node = &inputs.unit_nodes[0];
        assert_eq!(node.uuid, b.node_uuid("input/pepeunit").unwrap());
        assert_eq!(node.node_type, UnitNodeType::Input);
        assert_eq!(node.unit_uuid, b.uuid());
        assert_eq!(node.topic_name, "input/pepeunit");
        let second_page = client.get_input_by_output(&output, 10, 1).await.unwrap();
        assert_eq!((second_page.count, second_page.unit_nodes.len()), (1, 0));

        let units = client
            .get_units_by_nodes(&[&node.uuid], 10, 0)
            .await
            .unwrap();
        assert_eq!(units.count, 1);
        assert_eq!(units.units[0].uuid, b.uuid());
        assert_eq!(units.units[0].name, "beta");
        let outputs: Vec<&str> = units.units[0]
            .unit_nodes
            .iter()
            .map(|n| n.uuid.as_str())
            .collect();
        assert_eq!(outputs, [b.node_uuid("output/pepeunit").unwrap()]);
        assert_eq!(
            client.get_units_by_nodes(&[], 10, 0).await.unwrap().count,
            0
        );

        let target = client.get_target_version().await.unwrap();
        assert_eq!(target.commit, commit);
        assert_eq!(target.tag, None);
    }
}

#[tokio::test]
async fn a_403_is_typed_and_leaves_every_file_untouched() {
    for era in ERAS {
        let instance = instance(era).await;
        let dir = TempDir::new("rest-403");
        let a = unit(&instance, &dir, "a").await;
        set_env_key(
            &a.env_path(),
            "PU_AUTH_TOKEN",
            json!(forged_token(a.uuid())),
        );
        let client = client(&a, fast());
        let target = dir.path().join("target");
        std::fs::write(&target, "old content").unwrap();
        let untouched = unchanged(&[&target, &a.env_path(), &a.schema_path()]);

        let output = output_topic(&client);
        let errors = vec![
            backend_error(client.download_update(&target).await),
            backend_error(client.download_env(&target).await),
            backend_error(client.download_schema(&target).await),
            backend_error(client.apply_env_update().await),
            backend_error(client.apply_schema_update().await),
            backend_error(client.set_state_storage("x").await),
            backend_error(client.get_state_storage().await),
            backend_error(client.get_target_version().await),
            backend_error(client.get_input_by_output(&output, 1, 0).await),
            backend_error(client.get_units_by_nodes(&["x"], 1, 0).await),
        ];
        for (status, detail) in errors {
            assert_eq!(status, 403);
            assert_eq!(detail, "403: 1: No Access: Invalid token");
        }
        untouched();
        assert_eq!(
            leftovers(dir.path(), &["a", "target"]),
            Vec::<String>::new()
        );
        assert_eq!(instance.state_storage(&a), "");
        assert!(
            !log_text(&client).contains("retry"),
            "4xx are never retried"
        );
    }
}

#[tokio::test]
async fn a_422_is_typed_with_the_backend_detail() {
    for era in ERAS {
        let instance = instance(era).await;
        let dir = TempDir::new("rest-422");
        let a = unit(&instance, &dir, "a").await;
        let target = dir.path().join("update.tgz");
        std::fs::write(&target, "old archive").unwrap();
        let untouched = unchanged(&[&target]);
        let bad_wbits = client(
            &a,
            RestOptions {
                archive: ArchiveRequest::Tgz { wbits: 8, level: 9 },
                ..fast()
            },
        );
        let (status, detail) = backend_error(bad_wbits.download_update(&target).await);
        assert_eq!(status, 422);
        assert!(
            detail.starts_with("422: 7: Unit Validation Error: Wbits 8 is not valid"),
            "{detail}"
        );
        untouched();
        assert_eq!(
            leftovers(dir.path(), &["a", "update.tgz"]),
            Vec::<String>::new()
        );

        let client = client(&a, fast());
        let output = output_topic(&client);
        let (status, detail) = backend_error(client.get_input_by_output(&output, 501, 0).await);
        assert_eq!(status, 422);
        assert!(detail.contains("less than or equal to 500"), "{detail}");
    }
}

#[tokio::test]
async fn a_500_is_typed_after_the_retries_and_leaves_files_untouched() {
    let instance = instance(BackendEra::V1_1).await;
    let dir = TempDir::new("rest-500");
    let a = unit(&instance, &dir, "a").await;
    let client = client(&a, fast());
    let target = dir.path().join("target");
    std::fs::write(&target, "old content").unwrap();
    let untouched = unchanged(&[&target, &a.env_path()]);
    // One try and two retries for each of the four calls below.
    for route in [
        "/units/env/",
        "/units/get_current_schema/",
        "/units/firmware/",
        "/units/env/",
    ] {
        for _ in 0..3 {
            instance.fail_next(route, 500, INTERNAL_ERROR);
        }
    }
    let results = [
        client.download_env(&target).await,
        client.download_schema(&target).await,
        client.download_update(&target).await.map(drop),
        client.apply_env_update().await.map(drop),
    ];
    for result in results {
        assert_eq!(
            backend_error(result),
            (500, "500: Internal Server Error".to_string())
        );
    }
    untouched();
    assert_eq!(
        leftovers(dir.path(), &["a", "target"]),
        Vec::<String>::new()
    );
    let log = log_text(&client);
    assert_eq!(log.matches("retry 1 of 2").count(), 4, "{log}");
    assert_eq!(log.matches("retry 2 of 2").count(), 4, "{log}");

    // A POST is never retried: a single 500 fails it, and nothing was stored.
    instance.fail_next("/units/set_state_storage/", 500, INTERNAL_ERROR);
    let (status, _) = backend_error(client.set_state_storage("lost").await);
    assert_eq!(status, 500);
    assert_eq!(instance.state_storage(&a), "");
}

#[tokio::test]
async fn gets_are_retried_after_a_5xx_and_never_after_a_4xx() {
    let instance = instance(BackendEra::V1_1).await;
    let dir = TempDir::new("rest-retry");
    let a = unit(&instance, &dir, "a").await;
    let commit = "89abcdef0123456789abcdef0123456789abcdef";
    instance
        .set_program(&a, commit, ProgramSource::Files(Vec::new()), None)
        .unwrap();
    let client = client(&a, fast());

    instance.fail_next("/units/get_target_version/", 503, "Service Unavailable");
    assert_eq!(client.get_target_version().await.unwrap().commit, commit);
    let log = log_text(&client);
    assert!(
        log.contains("answered 503: Service Unavailable; retry 1 of 2"),
        "{log}"
    );

    let slow_down = r#"{"detail": "429: slow down"}"#;
    instance.fail_next("/units/get_target_version/", 429, slow_down);
    let (status, detail) = backend_error(client.get_target_version().await);
    assert_eq!((status, detail.as_str()), (429, "429: slow down"));
    assert_eq!(
        log_text(&client).matches("retry").count(),
        1,
        "the 429 was not retried"
    );

    // A download answered with a 5xx is retried too and completes.
    instance.fail_next("/units/firmware/", 502, "Bad Gateway");
    let path = dir.path().join("update.tgz");
    client.download_update(&path).await.unwrap();
    assert_eq!(archive::detect_format(&path).unwrap(), ArchiveFormat::Zlib);
}

#[tokio::test]
async fn connection_errors_are_retried_then_typed_without_the_token() {
    let instance = instance(BackendEra::V1_1).await;
    let dir = TempDir::new("rest-refused");
    let a = unit(&instance, &dir, "a").await;
    // Nothing listens on a port just freed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    set_env_key(
        &a.env_path(),
        "PU_DOMAIN",
        json!(format!("127.0.0.1:{port}")),
    );
    let client = client(&a, fast());
    let error = client.get_state_storage().await.unwrap_err();
    let Error::Http {
        reason: text,
        source,
    } = &error
    else {
        panic!("{error:?}")
    };
    let cause = source
        .as_ref()
        .expect("the HTTP client's error is kept as the source");
    assert!(cause.is::<reqwest::Error>(), "{cause:?}");
    let url = format!("GET http://127.0.0.1:{port}/pepeunit/api/v1/units/get_state_storage/");
    assert!(text.starts_with(&url), "{text}");
    assert!(!text.contains(a.token()) && !format!("{error:?}").contains(a.token()));
    let log = log_text(&client);
    assert_eq!(log.matches("; retry ").count(), 2, "{log}");
    assert!(!log.contains(a.token()));
}

#[tokio::test]
async fn broken_bodies_leave_env_and_schema_untouched() {
    for era in ERAS {
        let instance = instance(era).await;
        let dir = TempDir::new("rest-broken");
        let a = unit(&instance, &dir, "a").await;
        let client = client(&a, fast());
        let target = dir.path().join("target");
        std::fs::write(&target, "old content").unwrap();
        let untouched = unchanged(&[&target, &a.env_path(), &a.schema_path()]);

        for (body, expect) in [
            (r#"{"PU_AUTH_TOKEN": "#, "not valid JSON"),
            (r#""{\"PU_MQTT_PORT\": 1883""#, "not valid JSON"),
            ("[1, 2]", "expected a JSON object"),
            (r#"{"PU_MQTT_PORT": "eighty"}"#, "PU_MQTT_PORT"),
            (r#"{"PU_AUTH_TOKEN": "a.b.c"}"#, "invalid unit token"),
            (r#"{"PU_DOMAIN": "x"}"#, "invalid unit token"),
        ] {
            instance.fail_next("/units/env/", 200, body);
            let error = client.download_env(&target).await.unwrap_err();
            assert!(error.to_string().contains(expect), "{body}: {error}");
            instance.fail_next("/units/env/", 200, body);
            client.apply_env_update().await.unwrap_err();
        }
        for body in [
            r#"{"input_topic": 5}"#,
            r#"{"input_topic": {"a": [1]}}"#,
            "null",
        ] {
            instance.fail_next("/units/get_current_schema/", 200, body);
            client.download_schema(&target).await.unwrap_err();
            instance.fail_next("/units/get_current_schema/", 200, body);
            client.apply_schema_update().await.unwrap_err();
        }
        untouched();
        assert_eq!(
            client.settings().current().auth_token,
            a.token(),
            "settings in force kept"
        );
        assert_eq!(
            leftovers(dir.path(), &["a", "target"]),
            Vec::<String>::new()
        );
    }
}

#[tokio::test]
async fn storage_takes_exactly_a_million_characters() {
    let instance = instance(BackendEra::V1_1).await;
    let dir = TempDir::new("rest-storage");
    let a = unit(&instance, &dir, "a").await;
    let client = client(&a, fast());
    // Two-byte characters and a quote: the limit counts characters, not bytes or escapes.
    let million: String = "ж".repeat(999_999) + "\"";
    assert_eq!(million.chars().count(), 1_000_000);
    client.set_state_storage(&million).await.unwrap();
    assert_eq!(client.get_state_storage().await.unwrap(), million);

    let over = million.clone() + "x";
    let (status, detail) = backend_error(client.set_state_storage(&over).await);
    assert_eq!(status, 422);
    assert!(detail.contains("string_too_long"), "{detail}");
    assert_eq!(
        client.get_state_storage().await.unwrap(),
        million,
        "the stored state is kept"
    );
}

#[tokio::test]
async fn a_client_without_rest_says_so() {
    let instance = instance(BackendEra::V1_1).await;
    let dir = TempDir::new("rest-off");
    let a = unit(&instance, &dir, "a").await;
    let log = dir.path().join("log.json");
    let client = PepeunitClient::builder(a.env_path(), a.schema_path(), log)
        .build()
        .unwrap();
    let target = dir.path().join("target");
    assert!(matches!(
        client.download_env(&target).await,
        Err(Error::RestDisabled)
    ));
    assert!(matches!(
        client.get_state_storage().await,
        Err(Error::RestDisabled)
    ));
    assert!(matches!(
        client.get_units_by_nodes(&[], 1, 0).await,
        Err(Error::RestDisabled)
    ));
    assert!(matches!(
        client.apply_env_update().await,
        Err(Error::RestDisabled)
    ));
    assert!(!target.exists());
}

/// A user's HTTP client: counts requests, checks the token header, delegates to reqwest.
struct Counting {
    inner: ReqwestHttp,
    token: String,
    requests: AtomicUsize,
}

impl HttpClient for Counting {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse>> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        let token = request
            .headers
            .iter()
            .find(|(n, _)| n == "x-auth-token")
            .map(|(_, v)| v.clone());
        assert_eq!(token.as_deref(), Some(self.token.as_str()));
        assert!(!request.url.contains(&self.token));
        assert!(
            !format!("{request:?}").contains(&self.token),
            "Debug hides header values"
        );
        self.inner.send(request)
    }
}

#[tokio::test]
async fn a_custom_http_client_carries_every_call() {
    let instance = instance(BackendEra::V1_0).await;
    let dir = TempDir::new("rest-custom");
    let a = unit(&instance, &dir, "a").await;
    let http = Arc::new(Counting {
        inner: ReqwestHttp::new(HttpTimeouts::default()).unwrap(),
        token: a.token().to_string(),
        requests: AtomicUsize::new(0),
    });
    let log = dir.path().join("log.json");
    let client = PepeunitClient::builder(a.env_path(), a.schema_path(), log)
        .rest(true)
        .http_client(http.clone())
        .build()
        .unwrap();
    client.set_state_storage("via custom").await.unwrap();
    assert_eq!(client.get_state_storage().await.unwrap(), "via custom");
    assert!(
        client
            .apply_env_update()
            .await
            .unwrap()
            .changed_keys
            .is_empty()
    );
    assert_eq!(http.requests.load(Ordering::SeqCst), 3);
    // The futures are Send: a unit can run calls on any task.
    let spawned = tokio::spawn({
        let client = client.clone();
        async move { client.get_target_version().await }
    });
    spawned.await.unwrap().unwrap();
    assert_eq!(http.requests.load(Ordering::SeqCst), 4);
}
