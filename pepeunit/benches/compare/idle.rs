//! 3. Idle footprint: our echo unit, the Python one and a bare `mosquitto_sub` connected side by side
//!    with nothing arriving; RSS at the end, CPU and voluntary context switches over the window.
//! 4. Start-up: from spawning the program to its first state message on the broker (the probe's
//!    arrival stamp); the limit is `mosquitto_pub` spawned to send one message.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::probe::Watcher;
use crate::procfs::{self, Sample};
use crate::programs;
use crate::{Bench, Row};

/// Start-ups measured per program (the median is reported).
const STARTS: usize = 5;

struct Idle {
    rss_mib: f64,
    anonymous_mib: f64,
    cpu_percent: f64,
    switches: f64,
    threads: u64,
}

fn footprint(before: Option<Sample>, pid: u32) -> Idle {
    let after = Sample::take(pid).expect("the idle program is still running");
    let before = before.expect("the idle program was running");
    Idle {
        rss_mib: procfs::rss_mib(pid),
        anonymous_mib: procfs::anonymous_mib(pid),
        cpu_percent: before.cpu_percent(&after),
        switches: before.switches_per_second(&after),
        threads: procfs::status_field(pid, "Threads").unwrap_or(0),
    }
}

pub fn idle(bench: &mut Bench, seconds: u64) {
    let rust = bench.unit("idle-rust");
    let mut children: Vec<(&str, Child)> = vec![(
        "pepeunit (Rust)",
        programs::spawn(bench.ours.echo(&rust.dir, &rust.dir.join("log.json"))),
    )];
    let python_unit = bench.python.as_ref().map(|_| bench.unit("idle-python"));
    if let (Some(python), Some(unit)) = (&bench.python, &python_unit) {
        let child = programs::spawn(python.echo(&unit.dir, &unit.dir.join("log.json")));
        children.push(("Python client", child));
    }
    let mut sub = Command::new("mosquitto_sub");
    sub.args(["-h", "127.0.0.1", "-p", &bench.port().to_string()])
        .args(["-u", &crate::login().0, "-P", &crate::login().1])
        .args(["-t", &rust.topics.input, "-q", "0"]);
    children.push(("mosquitto_sub", programs::spawn(sub)));
    bench.wait_for_state(&rust);
    if let Some(unit) = &python_unit {
        bench.wait_for_state(unit);
    }
    std::thread::sleep(Duration::from_secs(2));
    let before: Vec<Option<Sample>> = children.iter().map(|(_, c)| Sample::take(c.id())).collect();
    std::thread::sleep(Duration::from_secs(seconds));
    let figures: Vec<(&str, Idle)> = children
        .iter()
        .zip(before)
        .map(|((who, child), before)| (*who, footprint(before, child.id())))
        .collect();
    for (who, idle) in &figures {
        println!(
            "idle {who:16} over {seconds} s: RSS {:.1} MiB ({:.1} MiB anonymous), CPU {:.3}%, {:.1} voluntary switches/s, {} threads",
            idle.rss_mib, idle.anonymous_mib, idle.cpu_percent, idle.switches, idle.threads
        );
    }
    for (_, child) in &mut children {
        programs::stop(child);
    }
    let ours = &figures[0].1;
    let python = figures
        .iter()
        .find(|(who, _)| *who == "Python client")
        .map(|(_, i)| i);
    let bare = &figures[figures.len() - 1].1;
    let rows = [
        (
            "RSS",
            "MiB",
            1usize,
            (|i: &Idle| i.rss_mib) as fn(&Idle) -> f64,
        ),
        ("anonymous memory (heap, stacks)", "MiB", 1, |i: &Idle| {
            i.anonymous_mib
        }),
        ("CPU", "% of a core", 3, |i: &Idle| i.cpu_percent),
        ("voluntary switches", "/s", 1, |i: &Idle| i.switches),
    ];
    for (name, unit, decimals, get) in rows {
        let show = |i: &Idle| format!("{:.*} {unit}", decimals, get(i));
        bench.rows.push(Row {
            what: format!("3. idle {seconds} s: {name}"),
            ours: format!("{} ({} threads)", show(ours), ours.threads),
            python: python.map_or("not run".into(), |p| {
                format!("{} ({} threads)", show(p), p.threads)
            }),
            limit: format!("mosquitto_sub {}", show(bare)),
            ratio: python.map_or(String::new(), |p| crate::relative(get(ours), get(p))),
        });
    }
}

pub fn startup(bench: &mut Bench) {
    let rust = bench.unit("start-rust");
    let python_unit = bench.python.as_ref().map(|_| bench.unit("start-python"));
    let limit_topic = "localhost/bench/start".to_string();
    let mut topics = vec![rust.topics.state.clone(), limit_topic.clone()];
    if let Some(unit) = &python_unit {
        topics.push(unit.topics.state.clone());
    }
    let watcher = Watcher::start(bench.port(), "startup", &topics);
    let (mut ours, mut python, mut limit) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..STARTS {
        ours.push(time_start(&watcher, &rust.topics.state, || {
            bench.ours.echo(&rust.dir, &rust.dir.join("log.json"))
        }));
        if let (Some(program), Some(unit)) = (&bench.python, &python_unit) {
            python.push(time_start(&watcher, &unit.topics.state, || {
                program.echo(&unit.dir, &unit.dir.join("log.json"))
            }));
        }
        limit.push(time_start(&watcher, &limit_topic, || {
            let mut command = Command::new("mosquitto_pub");
            command
                .args(["-h", "127.0.0.1", "-p", &bench.port().to_string()])
                .args(["-u", &crate::login().0, "-P", &crate::login().1])
                .args(["-t", &limit_topic, "-m", "up", "-q", "0"]);
            command
        }));
    }
    let show = |times: &mut Vec<Duration>| {
        times.sort();
        format!(
            "{:.1} ms (min {:.1}, max {:.1})",
            times[times.len() / 2].as_secs_f64() * 1000.0,
            times[0].as_secs_f64() * 1000.0,
            times[times.len() - 1].as_secs_f64() * 1000.0
        )
    };
    let median = |times: &Vec<Duration>| times[times.len() / 2].as_secs_f64();
    let ours_text = show(&mut ours);
    let python_text = if python.is_empty() {
        "not run".to_string()
    } else {
        show(&mut python)
    };
    println!("start-up pepeunit (Rust): {ours_text}; Python client: {python_text}");
    bench.rows.push(Row {
        what: format!("4. start-up to first state (median of {STARTS})"),
        ours: ours_text,
        python: python_text,
        limit: format!("mosquitto_pub {}", show(&mut limit)),
        ratio: if python.is_empty() {
            String::new()
        } else {
            crate::relative(median(&ours), median(&python))
        },
    });
}

/// Spawns the program `command` makes and returns the time to its first message on `topic`.
fn time_start(watcher: &Watcher, topic: &str, command: impl FnOnce() -> Command) -> Duration {
    watcher.drain();
    let command = command();
    let started = Instant::now();
    let mut child = programs::spawn(command);
    let deadline = started + Duration::from_secs(30);
    let arrived = loop {
        let left = deadline
            .checked_duration_since(Instant::now())
            .unwrap_or_else(|| panic!("no message on {topic} within 30 s"));
        if let Some(arrival) = watcher.next(left)
            && arrival.topic == topic
        {
            break arrival.at;
        }
    };
    programs::stop(&mut child);
    std::thread::sleep(Duration::from_millis(200));
    arrived - started
}
