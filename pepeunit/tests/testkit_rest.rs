//! The testkit's REST endpoints (PROTOCOL §7), driven with raw HTTP/1.1 over loopback.

mod support;

use std::io::Read;

use pepeunit_testkit::{BackendEra, Instance, ProgramSource, TestUnit, UnitSpec};
use serde_json::{Value, json};
use support::{TempDir, instance};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Reply {
    status: u16,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// One raw HTTP/1.1 request to the instance's REST server.
async fn http(
    instance: &Instance,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Reply {
    let base = instance.instance_url();
    let authority = base
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let mut stream = tokio::net::TcpStream::connect(&authority).await.unwrap();
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n");
    if let Some(token) = token {
        request += &format!("x-auth-token: {token}\r\n");
    }
    let body = body.unwrap_or("");
    request += &format!(
        "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    Reply {
        status,
        body: raw[split + 4..].to_vec(),
    }
}

/// `GET {api}{path}` with the unit's own token.
async fn unit_get(instance: &Instance, unit: &TestUnit, path: impl AsRef<str>) -> Reply {
    http(
        instance,
        "GET",
        &api(path.as_ref()),
        Some(unit.token()),
        None,
    )
    .await
}

fn api(path: &str) -> String {
    format!("/pepeunit/api/v1{path}")
}

async fn unit_from_vectors(instance: &Instance, dir: &TempDir, name: &str) -> TestUnit {
    let spec = UnitSpec {
        env_example: Some(
            serde_json::from_slice(
                &std::fs::read(support::vector("env/env_example.json")).unwrap(),
            )
            .unwrap(),
        ),
        schema_example: Some(
            serde_json::from_slice(
                &std::fs::read(support::vector("schema/schema_example.json")).unwrap(),
            )
            .unwrap(),
        ),
        ..UnitSpec::new(name, dir.path().join(name))
    };
    instance.create_unit(spec).await.unwrap()
}

fn read_json(path: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[tokio::test]
async fn created_unit_files_follow_the_backend_layout() {
    let instance = instance(BackendEra::V1_1).await;
    let dir = TempDir::new("tk-files");
    let unit = unit_from_vectors(&instance, &dir, "files").await;
    let env = read_json(&unit.env_path());
    let example = read_json(&support::vector("env/env_example.json"));
    for (key, value) in example.as_object().unwrap() {
        assert_eq!(&env[key], value, "developer variable {key}");
    }
    assert_eq!(env["PU_AUTH_TOKEN"], unit.token());
    assert_eq!(env["PU_MQTT_PORT"], instance.mqtt_port());
    let base = format!("{}{}", env["PU_HTTP_TYPE"].as_str().unwrap(), "://");
    let url = format!(
        "{base}{}{}{}",
        env["PU_DOMAIN"].as_str().unwrap(),
        env["PU_APP_PREFIX"].as_str().unwrap(),
        env["PU_API_ACTUAL_PREFIX"].as_str().unwrap()
    );
    assert_eq!(url, instance.rest_base_url());
    let payload = unit.token().split('.').nth(1).unwrap();
    use base64::Engine;
    let payload: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(payload, json!({"uuid": unit.uuid(), "type": "Unit"}));

    let schema = read_json(&unit.schema_path());
    let state = schema["output_base_topic"]["state/pepeunit"][0]
        .as_str()
        .unwrap();
    assert_eq!(
        state,
        format!("localhost/output_base_topic/{}/state/pepeunit", unit.uuid())
    );
    let input = schema["input_topic"]["input/pepeunit"].as_array().unwrap();
    assert_eq!(
        input,
        &[json!(format!(
            "localhost/{}/pepeunit",
            unit.node_uuid("input/pepeunit").unwrap()
        ))]
    );
    assert!(
        schema["input_base_topic"].get("reset/pepeunit").is_none(),
        "only the example's names"
    );
}

#[tokio::test]
async fn token_is_checked_with_the_backend_error_body() {
    let instance = instance(BackendEra::V1_1).await;
    let dir = TempDir::new("tk-token");
    let a = unit_from_vectors(&instance, &dir, "a").await;
    let b = unit_from_vectors(&instance, &dir, "b").await;
    let path = api(&format!("/units/env/{}", a.uuid()));
    for token in [None, Some("not-a-token"), Some(b.token())] {
        let reply = http(&instance, "GET", &path, token, None).await;
        assert_eq!(reply.status, 403, "token {token:?}");
        assert!(
            reply.json()["detail"]
                .as_str()
                .unwrap()
                .starts_with("403: 1: No Access: "),
            "{:?}",
            reply.json()
        );
    }
    assert_eq!(
        http(&instance, "GET", &path, Some(a.token()), None)
            .await
            .status,
        200
    );
    let bad_uuid = unit_get(&instance, &a, "/units/env/not-a-uuid").await;
    assert_eq!(bad_uuid.status, 422);
}

#[tokio::test]
async fn env_and_schema_come_in_both_backend_shapes() {
    for era in [BackendEra::V1_0, BackendEra::V1_1] {
        let instance = instance(era).await;
        let dir = TempDir::new("tk-shapes");
        let unit = unit_from_vectors(&instance, &dir, "shapes").await;
        for (route, file) in [
            ("env", unit.env_path()),
            ("get_current_schema", unit.schema_path()),
        ] {
            let reply =
                unit_get(&instance, &unit, &format!("/units/{route}/{}", unit.uuid())).await;
            assert_eq!(reply.status, 200);
            let body = reply.json();
            let value = match era {
                BackendEra::V1_0 => {
                    let text = body.as_str().expect("backend 1.0 sends a JSON string");
                    assert!(
                        text.contains("\": "),
                        "Python json.dumps separators: {text}"
                    );
                    serde_json::from_str(text).unwrap()
                }
                BackendEra::V1_1 => body,
            };
            assert_eq!(value, read_json(&file), "{route} in era {era:?}");
        }
    }
}

#[tokio::test]
async fn server_side_env_change_is_served() {
    let instance = instance(BackendEra::V1_1).await;
    let dir = TempDir::new("tk-env");
    let unit = unit_from_vectors(&instance, &dir, "env").await;
    instance.set_env_var(&unit, "DELAY_PUB_MSG", 7).unwrap();
    let reply = unit_get(&instance, &unit, &format!("/units/env/{}", unit.uuid())).await;
    assert_eq!(reply.json()["DELAY_PUB_MSG"], 7);
    assert_eq!(
        read_json(&unit.env_path())["DELAY_PUB_MSG"],
        1,
        "the file changes only when the unit fetches"
    );
}

#[tokio::test]
async fn linking_adds_the_output_topic_to_the_input_schema() {
    let instance = instance(BackendEra::V1_1).await;
    let dir = TempDir::new("tk-link");
    let from = unit_from_vectors(&instance, &dir, "from").await;
    let to = unit_from_vectors(&instance, &dir, "to").await;
    instance
        .link(&from, "output/pepeunit", &to, "input/pepeunit")
        .unwrap();
    let reply = unit_get(
        &instance,
        &to,
        &format!("/units/get_current_schema/{}", to.uuid()),
    )
    .await;
    let topics = reply.json()["input_topic"]["input/pepeunit"].clone();
    let own = format!(
        "localhost/{}/pepeunit",
        to.node_uuid("input/pepeunit").unwrap()
    );
    let linked = format!(
        "localhost/{}/pepeunit",
        from.node_uuid("output/pepeunit").unwrap()
    );
    assert_eq!(topics, json!([own, linked]));
    assert!(
        instance
            .link(&from, "no/such", &to, "input/pepeunit")
            .is_err()
    );
}

fn untar(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = tar::Archive::new(bytes);
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = String::from_utf8(e.path_bytes().to_vec()).unwrap();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (name, data)
        })
        .collect()
}

async fn unit_with_program(instance: &Instance, dir: &TempDir) -> TestUnit {
    let unit = unit_from_vectors(instance, dir, "prog").await;
    let files = vec![
        ("src/main.py".to_string(), b"print('hi')\n".to_vec()),
        ("README.md".to_string(), b"# unit\n".to_vec()),
    ];
    instance
        .set_program(
            &unit,
            "1111111111111111111111111111111111111111",
            ProgramSource::Files(files),
            None,
        )
        .unwrap();
    unit
}

#[tokio::test]
async fn firmware_tgz_honours_wbits_and_level() {
    let instance = instance(BackendEra::V1_1).await;
    let dir = TempDir::new("tk-tgz");
    let unit = unit_with_program(&instance, &dir).await;
    let get = |query: &str| {
        let path = api(&format!("/units/firmware/tgz/{}{query}", unit.uuid()));
        let instance = &instance;
        let token = unit.token().to_string();
        async move { http(instance, "GET", &path, Some(&token), None).await }
    };
    let default = get("").await;
    assert_eq!(default.status, 200);
    assert_eq!(
        &default.body[..2],
        &[0x18, 0xD3],
        "default is zlib wbits 9 level 9"
    );
    let mut tar = Vec::new();
    flate2::read::ZlibDecoder::new(&default.body[..])
        .read_to_end(&mut tar)
        .unwrap();
    let entries = untar(&tar);
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names[0], "./");
    for name in [
        "./env.json",
        "./schema.json",
        "./src/main.py",
        "./README.md",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    let env: Value =
        serde_json::from_slice(&entries.iter().find(|(n, _)| n == "./env.json").unwrap().1)
            .unwrap();
    assert_eq!(
        env["PU_COMMIT_VERSION"],
        "1111111111111111111111111111111111111111"
    );

    let raw = get("?wbits=-15&level=1").await;
    let mut plain = Vec::new();
    flate2::read::DeflateDecoder::new(&raw.body[..])
        .read_to_end(&mut plain)
        .unwrap();
    assert_eq!(untar(&plain).len(), entries.len());
    let gz = get("?wbits=31&level=9").await;
    assert_eq!(&gz.body[..2], &[0x1f, 0x8b]);
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&gz.body[..])
        .read_to_end(&mut plain)
        .unwrap();
    assert_eq!(untar(&plain).len(), entries.len());
    assert_eq!(get("?wbits=15&level=-1").await.body[0], 0x78);

    for (query, word) in [
        ("?wbits=8", "Wbits 8"),
        ("?wbits=16", "Wbits 16"),
        ("?level=10", "Level 10"),
        ("?level=-2", "Level -2"),
    ] {
        let reply = get(query).await;
        assert_eq!(reply.status, 422, "{query}");
        let detail = reply.json()["detail"].as_str().unwrap().to_string();
        assert!(
            detail.starts_with(&format!(
                "422: 7: Unit Validation Error: {word} is not valid"
            )),
            "{detail}"
        );
    }
    assert_eq!(get("?wbits=abc").await.status, 422);
}

#[tokio::test]
async fn firmware_tar_and_zip_hold_the_program() {
    let instance = instance(BackendEra::V1_1).await;
    let dir = TempDir::new("tk-zip");
    let unit = unit_with_program(&instance, &dir).await;
    let tar = unit_get(
        &instance,
        &unit,
        &format!("/units/firmware/tar/{}", unit.uuid()),
    )
    .await;
    let entries = untar(&tar.body);
    assert!(entries.contains(&("./src/main.py".to_string(), b"print('hi')\n".to_vec())));

    let zip = unit_get(
        &instance,
        &unit,
        &format!("/units/firmware/zip/{}", unit.uuid()),
    )
    .await;
    let files = unzip(&zip.body);
    assert_eq!(files["src/main.py"], b"print('hi')\n");
    assert!(files.contains_key("src/"), "directories are entries");
    let env: Value = serde_json::from_slice(&files["env.json"]).unwrap();
    assert_eq!(env["PU_AUTH_TOKEN"], unit.token());
}

/// A minimal zip reader: walks the central directory, inflates each member, checks its CRC.
fn unzip(bytes: &[u8]) -> std::collections::HashMap<String, Vec<u8>> {
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]) as usize;
    let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap()) as usize;
    let eocd = bytes.len() - 22;
    assert_eq!(u32_at(eocd), 0x0605_4b50);
    let (count, mut at) = (u16_at(eocd + 10), u32_at(eocd + 16));
    let mut out = std::collections::HashMap::new();
    for _ in 0..count {
        assert_eq!(u32_at(at), 0x0201_4b50);
        let (method, crc, csize) = (u16_at(at + 10), u32_at(at + 16) as u32, u32_at(at + 20));
        let (name_len, extra, comment, local) = (
            u16_at(at + 28),
            u16_at(at + 30),
            u16_at(at + 32),
            u32_at(at + 42),
        );
        let name = String::from_utf8(bytes[at + 46..at + 46 + name_len].to_vec()).unwrap();
        let data_at = local + 30 + u16_at(local + 26) + u16_at(local + 28);
        let raw = &bytes[data_at..data_at + csize];
        let data = if method == 8 {
            let mut d = Vec::new();
            flate2::read::DeflateDecoder::new(raw)
                .read_to_end(&mut d)
                .unwrap();
            d
        } else {
            raw.to_vec()
        };
        assert_eq!(crc32fast::hash(&data), crc, "{name}");
        out.insert(name, data);
        at += 46 + name_len + extra + comment;
    }
    out
}

#[tokio::test]
async fn compiled_program_serves_the_binary_and_only_env_and_schema() {
    let instance = instance(BackendEra::V1_1).await;
    let dir = TempDir::new("tk-bin");
    let unit = unit_from_vectors(&instance, &dir, "bin").await;
    let files = vec![("src/main.rs".to_string(), b"fn main() {}".to_vec())];
    instance
        .set_program(
            &unit,
            "2222222222222222222222222222222222222222",
            ProgramSource::Files(files),
            Some(b"\x7fELF-binary".to_vec()),
        )
        .unwrap();
    let url = instance.compiled_binary_url(&unit).unwrap();
    let path = url
        .split_once("127.0.0.1:")
        .unwrap()
        .1
        .split_once('/')
        .map(|(_, p)| format!("/{p}"))
        .unwrap();
    let binary = http(&instance, "GET", &path, None, None).await;
    assert_eq!(
        (binary.status, binary.body.as_slice()),
        (200, &b"\x7fELF-binary"[..])
    );
    let tar = unit_get(
        &instance,
        &unit,
        &format!("/units/firmware/tar/{}", unit.uuid()),
    )
    .await;
    let names: Vec<String> = untar(&tar.body).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["./", "./env.json", "./schema.json"]);
}

#[tokio::test]
async fn state_storage_round_trips_with_backend_statuses() {
    let instance = instance(BackendEra::V1_1).await;
    let dir = TempDir::new("tk-storage");
    let unit = unit_from_vectors(&instance, &dir, "storage").await;
    let get_path = api(&format!("/units/get_state_storage/{}", unit.uuid()));
    let set_path = api(&format!("/units/set_state_storage/{}", unit.uuid()));
    let empty = http(&instance, "GET", &get_path, Some(unit.token()), None).await;
    assert_eq!((empty.status, empty.body.as_slice()), (200, &b"\"\""[..]));
    let body = json!({"state": "{\"count\": 3}"}).to_string();
    let set = http(
        &instance,
        "POST",
        &set_path,
        Some(unit.token()),
        Some(&body),
    )
    .await;
    assert_eq!((set.status, set.body.len()), (204, 0));
    let got = http(&instance, "GET", &get_path, Some(unit.token()), None).await;
    assert_eq!(got.json(), json!("{\"count\": 3}"));
    assert_eq!(instance.state_storage(&unit), "{\"count\": 3}");

    let at_limit = json!({"state": "x".repeat(1_000_000)}).to_string();
    assert_eq!(
        http(
            &instance,
            "POST",
            &set_path,
            Some(unit.token()),
            Some(&at_limit)
        )
        .await
        .status,
        204
    );
    let over = json!({"state": "x".repeat(1_000_001)}).to_string();
    let reply = http(
        &instance,
        "POST",
        &set_path,
        Some(unit.token()),
        Some(&over),
    )
    .await;
    assert_eq!(reply.status, 422);
    assert_eq!(
        instance.state_storage(&unit).len(),
        1_000_000,
        "a refused state changes nothing"
    );
}

#[tokio::test]
async fn unit_nodes_and_units_queries_page_with_limit_and_offset() {
    let instance = instance(BackendEra::V1_1).await;
    let dir = TempDir::new("tk-nodes");
    let source = unit_from_vectors(&instance, &dir, "source").await;
    let beta = unit_from_vectors(&instance, &dir, "beta").await;
    let alpha = unit_from_vectors(&instance, &dir, "alpha").await;
    instance
        .link(&source, "output/pepeunit", &beta, "input/pepeunit")
        .unwrap();
    instance
        .link(&source, "output/pepeunit", &alpha, "input/pepeunit")
        .unwrap();
    let out = source.node_uuid("output/pepeunit").unwrap();
    let query = |offset: usize| {
        api(&format!(
            "/unit_nodes?output_uuid={out}&order_by_create_date=desc&limit=1&offset={offset}"
        ))
    };
    let first = http(&instance, "GET", &query(0), Some(source.token()), None)
        .await
        .json();
    let second = http(&instance, "GET", &query(1), Some(source.token()), None)
        .await
        .json();
    assert_eq!(first["count"], 2);
    assert_eq!(
        first["unit_nodes"][0]["uuid"],
        alpha.node_uuid("input/pepeunit").unwrap(),
        "newest link first"
    );
    assert_eq!(
        second["unit_nodes"][0]["uuid"],
        beta.node_uuid("input/pepeunit").unwrap()
    );
    assert_eq!(second["unit_nodes"][0]["unit_uuid"], beta.uuid());
    assert_eq!(second["unit_nodes"][0]["type"], "Input");

    let nodes = [
        beta.node_uuid("input/pepeunit").unwrap(),
        alpha.node_uuid("input/pepeunit").unwrap(),
    ];
    let units = api(&format!(
        "/units?is_include_output_unit_nodes=true&unit_node_uuids={}&unit_node_uuids={}&order_by_unit_name=asc&limit=10&offset=0",
        nodes[0], nodes[1]
    ));
    let reply = http(&instance, "GET", &units, Some(source.token()), None)
        .await
        .json();
    assert_eq!(reply["count"], 2);
    assert_eq!(reply["units"][0]["name"], "alpha");
    assert_eq!(reply["units"][1]["name"], "beta");
    assert_eq!(
        reply["units"][0]["unit_nodes"][0]["uuid"],
        alpha.node_uuid("output/pepeunit").unwrap()
    );
    let over = api(&format!("/units?unit_node_uuids={}&limit=501", nodes[0]));
    assert_eq!(
        http(&instance, "GET", &over, Some(source.token()), None)
            .await
            .status,
        422
    );
}

#[tokio::test]
async fn target_version_and_instance_root() {
    let instance = instance(BackendEra::V1_0).await;
    let dir = TempDir::new("tk-target");
    let unit = unit_with_program(&instance, &dir).await;
    let target = unit_get(
        &instance,
        &unit,
        &format!("/units/get_target_version/{}", unit.uuid()),
    )
    .await;
    assert_eq!(
        target.json(),
        json!({"commit": "1111111111111111111111111111111111111111", "tag": null})
    );
    let root = http(&instance, "GET", "/pepeunit", None, None).await;
    assert_eq!(root.status, 200);
    assert_eq!(root.json()["version"], "1.0.0");
}

#[tokio::test]
async fn reach_routes_keep_the_backend_rules() {
    let instance = instance(BackendEra::V1_1).await;
    let dir = TempDir::new("reach-routes");
    let spec = |name: &str| UnitSpec::new(name, dir.path().join(name));
    let a = instance.create_unit(spec("alpha")).await.unwrap();
    let b = instance.create_unit(spec("beta")).await.unwrap();
    let get = |path: String| unit_get(&instance, &a, path);

    // The trailing slash is part of two routes: without it the path reads as `/…/{uuid}`.
    for path in [
        "/units/log_list".to_string(),
        format!(
            "/unit_nodes/get_data_pipe_data?uuid={}&type=NRecords",
            a.uuid()
        ),
    ] {
        let reply = get(path).await;
        assert_eq!(reply.status, 422);
        assert_eq!(reply.json()["detail"][0]["type"], "uuid_parsing");
    }
    let own = get(format!("/units/log_list/?uuid={}", a.uuid())).await;
    assert_eq!(
        (own.status, own.json()),
        (200, json!({"count": 0, "unit_logs": []}))
    );

    // Own uuid only, with the backend's 403 naming the asking unit.
    let other = get(format!("/units/log_list/?uuid={}", b.uuid())).await;
    assert_eq!(other.status, 403);
    assert_eq!(
        other.json()["detail"],
        "403: 1: No Access: The Unit alpha requesting the information does not have access to it"
    );
    let path = api(&format!(
        "/units/send_command_to_input_base_topic/{}?command=LogSync",
        b.uuid()
    ));
    let reply = http(&instance, "POST", &path, Some(a.token()), None).await;
    assert_eq!(reply.status, 403);
    let path = api(&format!(
        "/units/send_command_to_input_base_topic/{}?command=Reset",
        a.uuid()
    ));
    let reply = http(&instance, "POST", &path, Some(a.token()), None).await;
    assert_eq!(
        (reply.status, reply.json()["detail"][0]["type"].clone()),
        (422, json!("enum"))
    );

    // The pagination mixin's 422s.
    let big = get(format!("/units/log_list/?uuid={}&limit=501", a.uuid())).await;
    assert_eq!(
        (big.status, big.json()),
        (422, json!({"detail": "limit must be <= 500"}))
    );
    let node = a.node_uuid("output/pepeunit").unwrap();
    let negative = get(format!(
        "/unit_nodes/get_data_pipe_data/?uuid={node}&type=NRecords&offset=-1"
    ))
    .await;
    assert_eq!(negative.json(), json!({"detail": "offset must be >= 0"}));

    // The backend's 500s: LastValue, and a node read of an unknown uuid (plain text).
    let last = get(format!(
        "/unit_nodes/get_data_pipe_data/?uuid={node}&type=LastValue"
    ))
    .await;
    assert_eq!(
        (last.status, last.body.as_slice()),
        (500, &b"Internal Server Error"[..])
    );
    let unknown = get("/unit_nodes/6f1c1e7a-0b3c-4d7e-9a51-1a2b3c4d5e6f".into()).await;
    assert_eq!(
        (unknown.status, unknown.body.as_slice()),
        (500, &b"Internal Server Error"[..])
    );

    // The body of set_state_input is validated like FastAPI's.
    let input = b.node_uuid("input/pepeunit").unwrap();
    instance
        .set_rewritable_input(&b, "input/pepeunit", true)
        .unwrap();
    let path = api(&format!("/unit_nodes/set_state_input/{input}"));
    let reply = http(
        &instance,
        "PATCH",
        &path,
        Some(a.token()),
        Some(r#"{"state": 5}"#),
    )
    .await;
    assert_eq!(
        (reply.status, reply.json()["detail"][0]["type"].clone()),
        (422, json!("string_type"))
    );
    let reply = http(
        &instance,
        "PATCH",
        &path,
        Some(a.token()),
        Some(r#"{"state": "7"}"#),
    )
    .await;
    assert_eq!(
        (reply.status, reply.json()["state"].clone()),
        (200, json!("7"))
    );

    // The root carries the feature flags.
    instance.set_data_pipe_enabled(false);
    let root = http(&instance, "GET", "/pepeunit", None, None).await;
    assert_eq!(root.json()["feature_flags"]["pu_ff_datapipe_enable"], false);
}
